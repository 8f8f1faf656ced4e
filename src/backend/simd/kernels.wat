;; bowcnn's hand-written WebAssembly SIMD kernels, run over tfjs-backend-wasm's own linear memory (the
;; module imports it: every pointer below is a byte offset into tfjs's heap). Built into
;; kernels.wasm.ts by `npm run build:simd` (wabt), twice: for the unthreaded build's memory and, with
;; `shared` declared, for the threaded build's SharedArrayBuffer memory.
;;
;; Channel kernels read a tensor as [M,C] (rows of C contiguous float32; C % 4 == 0 for the sums, C >= 4
;; for affine, whose last block of a row overlaps the one before when C % 4 != 0). Sums are taken in
;; float32 lanes over blocks of 64 rows, then added into float64 accumulators, so a 1.6 M-value pass
;; keeps float64-like accuracy.
;;
;;   moments(x, M, C, acc32, acc64)        acc64[c] = sum_m x[m,c];      acc64[C+c] = sum_m x[m,c]^2
;;   sums(x, y, M, C, acc32, acc64)        acc64[c] = sum_m y[m,c];      acc64[C+c] = sum_m y[m,c] x[m,c]
;;   affine(x, a, b, out, M, C)            out[m,c] = a[c] x[m,c] + b[c]
;;   affine2(x, a, b, x2, a2, out, M, C)   out[m,c] = a[c] x[m,c] + a2[c] x2[m,c] + b[c]
;;
;; The filter gradient of a convolution with one input channel (a first layer), x [N,H,W,1],
;; dy [N,OH,OW,Co], any Co; Cop = Co rounded up to a multiple of 4:
;;   convFilterC1(x, dy, acc32, acc64, N, H, W, OH, OW, Co, KH, KW, sH, sW, pt, pl)
;;     acc64[(kh*KW + kw)*Cop + co] = sum_{n,oh,ow} x[n, oh*sH + kh - pt, ow*sW + kw - pl] dy[n,oh,ow,co]
;;   (taps outside the image are zeros: 'same' padding); per image and tap, a run along each output row
;;   with up to 16 channels in four float32x4 registers; float64 across images. Lanes co >= Co read
;;   past a pixel's dy (up to 12 bytes past the tensor's end: the caller checks the heap has them) and
;;   are ignored.
;; acc32 is scratch (2C floats for the channel kernels, KH*KW*Cop for convFilterC1); acc64 is zeroed here.
;;
;; The gradient of ReLU: reluGrad(dy, x, dx, n)   dx[i] = x[i] > 0 ? dy[i] : 0  (n values)
;;
;; A bias and ReLU after a convolution, forward and backward, over [M,L] with L % 4 == 0 (the caller views
;; [rows,C] as rows of L = lcm(C,4) values, the bias tiled L/C times, and folds the L sums back to C):
;;   biasRelu(x, b, out, M, L)                      out[m,l] = max(x[m,l] + b[l], 0)
;;   reluGradSum(dy, y, dx, M, L, acc32, acc64)     dx[m,l] = y[m,l] > 0 ? dy[m,l] : 0;  acc64[l] = sum_m dx[m,l]
;;   (float32 lanes over blocks of 64 rows, then float64, as the channel sums; acc32 is L floats of scratch)
;;
;; One Adam step over n values (tfjs-core's AdamOptimizer's arithmetic, in float32):
;;   adam(x, g, m, v, ox, om, ov, n, lr, b1, b2, eps, c1, c2)
;;     om = b1 m + (1 - b1) g;  ov = b2 v + (1 - b2) g^2;  ox = x - lr (om / c1) / (sqrt(ov / c2) + eps)
;;   where c1 = 1 - b1^t, c2 = 1 - b2^t at step t.
;;
;; The gradient of 2x2 max pooling at stride 2 without padding, x [N,H,W,C], dy [N,OH,OW,C], C >= 4
;; (C % 4 != 0: overlapping last block):
;;   maxPoolGrad2x2(x, dy, dx, N, H, W, C, OH, OW)
;;     each window's dy goes to its first maximum in row-major order (a, b / d, e), the others get 0;
;;     rows and columns that no window covers are left as they are (the caller zeroes them).
(module
  (import "env" "memory" (memory 1 65536 MEMORY_SHARED))

  ;; acc64[i] = 0 for i < n
  (func $zero64 (param $p i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
      (f64.store (local.get $p) (f64.const 0))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $l))))

  ;; acc32[i] = 0 for i < n
  (func $zero32 (param $p i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
      (f32.store (local.get $p) (f32.const 0))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $l))))

  ;; acc64[i] += acc32[i] for i < n
  (func $flush (param $a32 i32) (param $a64 i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $a32) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a32) (local.get $e)))
      (f64.store (local.get $a64) (f64.add (f64.load (local.get $a64)) (f64.promote_f32 (f32.load (local.get $a32)))))
      (local.set $a32 (i32.add (local.get $a32) (i32.const 4)))
      (local.set $a64 (i32.add (local.get $a64) (i32.const 8)))
      (br $l))))

  ;; moments and sums share one loop: mode 0 sums x and x^2 (y ignored), mode 1 sums y and y*x
  (func $pass (param $mode i32) (param $x i32) (param $y i32) (param $M i32) (param $C i32) (param $acc32 i32) (param $acc64 i32)
    (local $row i32) (local $blockEnd i32) (local $rowBytes i32) (local $cb i32) (local $v v128) (local $w v128) (local $q i32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $q (i32.add (local.get $acc32) (local.get $rowBytes)))
    (call $zero64 (local.get $acc64) (i32.shl (local.get $C) (i32.const 1)))
    (local.set $row (i32.const 0))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $row) (local.get $M)))
      (call $zero32 (local.get $acc32) (i32.shl (local.get $C) (i32.const 1)))
      (local.set $blockEnd (i32.add (local.get $row) (i32.const 64)))
      (if (i32.gt_u (local.get $blockEnd) (local.get $M)) (then (local.set $blockEnd (local.get $M))))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $blockEnd)))
        (local.set $cb (i32.const 0))
        (block $chDone (loop $ch
          (br_if $chDone (i32.ge_u (local.get $cb) (local.get $rowBytes)))
          (local.set $v (v128.load (i32.add (local.get $x) (local.get $cb))))
          (if (local.get $mode)
            (then
              (local.set $w (v128.load (i32.add (local.get $y) (local.get $cb))))
              (v128.store (i32.add (local.get $acc32) (local.get $cb))
                (f32x4.add (v128.load (i32.add (local.get $acc32) (local.get $cb))) (local.get $w)))
              (v128.store (i32.add (local.get $q) (local.get $cb))
                (f32x4.add (v128.load (i32.add (local.get $q) (local.get $cb))) (f32x4.mul (local.get $w) (local.get $v)))))
            (else
              (v128.store (i32.add (local.get $acc32) (local.get $cb))
                (f32x4.add (v128.load (i32.add (local.get $acc32) (local.get $cb))) (local.get $v)))
              (v128.store (i32.add (local.get $q) (local.get $cb))
                (f32x4.add (v128.load (i32.add (local.get $q) (local.get $cb))) (f32x4.mul (local.get $v) (local.get $v))))))
          (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
          (br $ch)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (local.get $rowBytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))
      (call $flush (local.get $acc32) (local.get $acc64) (i32.shl (local.get $C) (i32.const 1)))
      (br $blocks))))

  (func (export "moments") (param $x i32) (param $M i32) (param $C i32) (param $acc32 i32) (param $acc64 i32)
    (call $pass (i32.const 0) (local.get $x) (local.get $x) (local.get $M) (local.get $C) (local.get $acc32) (local.get $acc64)))

  (func (export "sums") (param $x i32) (param $y i32) (param $M i32) (param $C i32) (param $acc32 i32) (param $acc64 i32)
    (call $pass (i32.const 1) (local.get $x) (local.get $y) (local.get $M) (local.get $C) (local.get $acc32) (local.get $acc64)))

  (func (export "affine") (param $x i32) (param $a i32) (param $b i32) (param $out i32) (param $M i32) (param $C i32)
    (local $end i32) (local $rowBytes i32) (local $cb i32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.add (local.get $out) (i32.mul (local.get $M) (local.get $rowBytes))))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (local.set $cb (i32.const 0))
      (block $chDone (loop $ch
        (br_if $chDone (i32.ge_u (local.get $cb) (local.get $rowBytes)))
        ;; C % 4 != 0: the last block overlaps the one before (same lanes, same values written)
        (if (i32.gt_u (i32.add (local.get $cb) (i32.const 16)) (local.get $rowBytes))
          (then (local.set $cb (i32.sub (local.get $rowBytes) (i32.const 16)))))
        (v128.store (i32.add (local.get $out) (local.get $cb))
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $cb))) (v128.load (i32.add (local.get $x) (local.get $cb))))
            (v128.load (i32.add (local.get $b) (local.get $cb)))))
        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
        (br $ch)))
      (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
      (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
      (br $rows))))

  (func (export "affine2") (param $x i32) (param $a i32) (param $b i32) (param $x2 i32) (param $a2 i32) (param $out i32) (param $M i32) (param $C i32)
    (local $end i32) (local $rowBytes i32) (local $cb i32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.add (local.get $out) (i32.mul (local.get $M) (local.get $rowBytes))))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (local.set $cb (i32.const 0))
      (block $chDone (loop $ch
        (br_if $chDone (i32.ge_u (local.get $cb) (local.get $rowBytes)))
        ;; C % 4 != 0: the last block overlaps the one before (same lanes, same values written)
        (if (i32.gt_u (i32.add (local.get $cb) (i32.const 16)) (local.get $rowBytes))
          (then (local.set $cb (i32.sub (local.get $rowBytes) (i32.const 16)))))
        (v128.store (i32.add (local.get $out) (local.get $cb))
          (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $cb))) (v128.load (i32.add (local.get $x) (local.get $cb))))
              (f32x4.mul (v128.load (i32.add (local.get $a2) (local.get $cb))) (v128.load (i32.add (local.get $x2) (local.get $cb)))))
            (v128.load (i32.add (local.get $b) (local.get $cb)))))
        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
        (br $ch)))
      (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
      (local.set $x2 (i32.add (local.get $x2) (local.get $rowBytes)))
      (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
      (br $rows))))

  (func (export "convFilterC1")
    (param $x i32) (param $dy i32) (param $acc32 i32) (param $acc64 i32)
    (param $N i32) (param $H i32) (param $W i32) (param $OH i32) (param $OW i32) (param $Co i32)
    (param $KH i32) (param $KW i32) (param $sH i32) (param $sW i32) (param $pt i32) (param $pl i32)
    (local $Cop i32) (local $slots i32) (local $n i32) (local $co0 i32) (local $V i32) (local $kh i32) (local $kw i32)
    (local $oh i32) (local $ih i32) (local $lo i32) (local $hi i32) (local $t i32) (local $ow i32)
    (local $xp i32) (local $dp i32) (local $xStep i32) (local $dStep i32) (local $ap i32)
    (local $xv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    ;; Cop: Co rounded up to 4 lanes (lanes past Co read the next pixel's dy and are ignored)
    (local.set $Cop (i32.and (i32.add (local.get $Co) (i32.const 3)) (i32.const -4)))
    (local.set $slots (i32.mul (i32.mul (local.get $KH) (local.get $KW)) (local.get $Cop)))
    (local.set $xStep (i32.shl (local.get $sW) (i32.const 2)))
    (local.set $dStep (i32.shl (local.get $Co) (i32.const 2)))
    (call $zero64 (local.get $acc64) (local.get $slots))
    (local.set $n (i32.const 0))
    (block $nDone (loop $nLoop
      (br_if $nDone (i32.ge_u (local.get $n) (local.get $N)))
      ;; groups of up to 16 output channels: four v128 accumulators in registers
      (local.set $co0 (i32.const 0))
      (block $gDone (loop $gLoop
        (br_if $gDone (i32.ge_u (local.get $co0) (local.get $Co)))
        (local.set $V (i32.shr_u (i32.sub (local.get $Cop) (local.get $co0)) (i32.const 2)))
        (if (i32.gt_u (local.get $V) (i32.const 4)) (then (local.set $V (i32.const 4))))
        (local.set $kh (i32.const 0))
        (block $khDone (loop $khLoop
          (br_if $khDone (i32.ge_u (local.get $kh) (local.get $KH)))
          (local.set $kw (i32.const 0))
          (block $kwDone (loop $kwLoop
            (br_if $kwDone (i32.ge_u (local.get $kw) (local.get $KW)))
            ;; columns ow whose tap iw = ow*sW + kw - pl lies in [0, W): [lo, hi)
            (local.set $lo (i32.const 0))
            (if (i32.gt_s (local.get $pl) (local.get $kw)) (then
              (local.set $lo (i32.div_u (i32.add (i32.sub (local.get $pl) (local.get $kw)) (i32.sub (local.get $sW) (i32.const 1))) (local.get $sW)))))
            (local.set $t (i32.sub (i32.add (i32.sub (local.get $W) (i32.const 1)) (local.get $pl)) (local.get $kw)))
            (local.set $hi (i32.const 0))
            (if (i32.ge_s (local.get $t) (i32.const 0)) (then
              (local.set $hi (i32.add (i32.div_u (local.get $t) (local.get $sW)) (i32.const 1)))))
            (if (i32.gt_u (local.get $hi) (local.get $OW)) (then (local.set $hi (local.get $OW))))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $oh (i32.const 0))
            (block $ohDone (loop $ohLoop
              (br_if $ohDone (i32.ge_u (local.get $oh) (local.get $OH)))
              (local.set $ih (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $sH)) (local.get $kh)) (local.get $pt)))
              (if (i32.and (i32.lt_u (local.get $ih) (local.get $H)) (i32.lt_u (local.get $lo) (local.get $hi))) (then
                ;; xp = &x[n, ih, lo*sW + kw - pl],  dp = &dy[n, oh, lo, co0]
                (local.set $xp (i32.add (local.get $x) (i32.shl
                  (i32.sub (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (local.get $ih)) (local.get $W))
                    (i32.add (i32.mul (local.get $lo) (local.get $sW)) (local.get $kw))) (local.get $pl)) (i32.const 2))))
                (local.set $dp (i32.add (local.get $dy) (i32.shl
                  (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $OH)) (local.get $oh)) (local.get $OW)) (local.get $lo)) (local.get $Co))
                    (local.get $co0)) (i32.const 2))))
                (local.set $ow (local.get $lo))
                (block $owDone (loop $owLoop
                  (br_if $owDone (i32.ge_u (local.get $ow) (local.get $hi)))
                  (local.set $xv (v128.load32_splat (local.get $xp)))
                  (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load (local.get $dp)))))
                  (if (i32.gt_u (local.get $V) (i32.const 1)) (then
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $dp)))))
                    (if (i32.gt_u (local.get $V) (i32.const 2)) (then
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $dp)))))
                      (if (i32.gt_u (local.get $V) (i32.const 3)) (then
                        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $dp)))))))))))
                  (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                  (local.set $dp (i32.add (local.get $dp) (local.get $dStep)))
                  (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                  (br $owLoop)))))
              (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
              (br $ohLoop)))
            ;; this image's sums for tap (kh, kw), channels co0.. : acc32[(kh*KW + kw)*Cop + co0 ..]
            (local.set $ap (i32.add (local.get $acc32) (i32.shl
              (i32.add (i32.mul (i32.add (i32.mul (local.get $kh) (local.get $KW)) (local.get $kw)) (local.get $Cop)) (local.get $co0)) (i32.const 2))))
            (v128.store (local.get $ap) (local.get $a0))
            (if (i32.gt_u (local.get $V) (i32.const 1)) (then (v128.store offset=16 (local.get $ap) (local.get $a1))))
            (if (i32.gt_u (local.get $V) (i32.const 2)) (then (v128.store offset=32 (local.get $ap) (local.get $a2))))
            (if (i32.gt_u (local.get $V) (i32.const 3)) (then (v128.store offset=48 (local.get $ap) (local.get $a3))))
            (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
            (br $kwLoop)))
          (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
          (br $khLoop)))
        (local.set $co0 (i32.add (local.get $co0) (i32.const 16)))
        (br $gLoop)))
      (call $flush (local.get $acc32) (local.get $acc64) (local.get $slots))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nLoop))))

;; see the header: 2x2 / stride 2 max-pool gradient
  (func (export "maxPoolGrad2x2")
    (param $x i32) (param $dy i32) (param $dx i32) (param $N i32) (param $H i32) (param $W i32) (param $C i32) (param $OH i32) (param $OW i32)
    (local $rowBytes i32) (local $pixBytes i32) (local $n i32) (local $oy i32) (local $ox i32) (local $p i32) (local $cb i32) (local $o i32)
    (local $va v128) (local $vb v128) (local $vd v128) (local $ve v128) (local $m v128) (local $g v128)
    (local $ea v128) (local $eb v128) (local $ed v128) (local $taken v128)
    (local.set $pixBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $W) (local.get $pixBytes)))
    (local.set $n (i32.const 0))
    (block $nDone (loop $nLoop
      (br_if $nDone (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $oy (i32.const 0))
      (block $yDone (loop $yLoop
        (br_if $yDone (i32.ge_u (local.get $oy) (local.get $OH)))
        (local.set $ox (i32.const 0))
        (block $xDone (loop $xLoop
          (br_if $xDone (i32.ge_u (local.get $ox) (local.get $OW)))
          ;; p: byte offset of window (oy, ox)'s top-left pixel relative to x (and dx)
          (local.set $p (i32.add
            (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (i32.shl (local.get $oy) (i32.const 1))) (local.get $rowBytes))
            (i32.mul (i32.shl (local.get $ox) (i32.const 1)) (local.get $pixBytes))))
          (local.set $cb (i32.const 0))
          (block $cDone (loop $cLoop
            (br_if $cDone (i32.ge_u (local.get $cb) (local.get $pixBytes)))
            ;; C % 4 != 0: the last block overlaps the one before (same lanes, same values written)
            (if (i32.gt_u (i32.add (local.get $cb) (i32.const 16)) (local.get $pixBytes))
              (then (local.set $cb (i32.sub (local.get $pixBytes) (i32.const 16)))))
            (local.set $o (i32.add (local.get $p) (local.get $cb)))
            (local.set $va (v128.load (i32.add (local.get $x) (local.get $o))))
            (local.set $vb (v128.load (i32.add (local.get $x) (i32.add (local.get $o) (local.get $pixBytes)))))
            (local.set $vd (v128.load (i32.add (local.get $x) (i32.add (local.get $o) (local.get $rowBytes)))))
            (local.set $ve (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $o) (local.get $rowBytes)) (local.get $pixBytes)))))
            (local.set $m (f32x4.max (f32x4.max (local.get $va) (local.get $vb)) (f32x4.max (local.get $vd) (local.get $ve))))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $cb))))
            (local.set $ea (f32x4.eq (local.get $va) (local.get $m)))
            (local.set $eb (v128.andnot (f32x4.eq (local.get $vb) (local.get $m)) (local.get $ea)))
            (local.set $taken (v128.or (local.get $ea) (local.get $eb)))
            (local.set $ed (v128.andnot (f32x4.eq (local.get $vd) (local.get $m)) (local.get $taken)))
            (local.set $taken (v128.or (local.get $taken) (local.get $ed)))
            (v128.store (i32.add (local.get $dx) (local.get $o)) (v128.and (local.get $g) (local.get $ea)))
            (v128.store (i32.add (local.get $dx) (i32.add (local.get $o) (local.get $pixBytes))) (v128.and (local.get $g) (local.get $eb)))
            (v128.store (i32.add (local.get $dx) (i32.add (local.get $o) (local.get $rowBytes))) (v128.and (local.get $g) (local.get $ed)))
            (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $o) (local.get $rowBytes)) (local.get $pixBytes)))
              (v128.andnot (local.get $g) (local.get $taken)))
            (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
            (br $cLoop)))
          (local.set $dy (i32.add (local.get $dy) (local.get $pixBytes)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $xLoop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $yLoop)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nLoop))))
  ;; see the header: the gradient of ReLU
  (func (export "reluGrad") (param $dy i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $end i32) (local $vend i32)
    (local.set $end (i32.add (local.get $dx) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $dx) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vDone (loop $v
      (br_if $vDone (i32.ge_u (local.get $dx) (local.get $vend)))
      (v128.store (local.get $dx) (v128.and (v128.load (local.get $dy))
        (f32x4.gt (v128.load (local.get $x)) (v128.const f32x4 0 0 0 0))))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
      (br $v)))
    (block $sDone (loop $s
      (br_if $sDone (i32.ge_u (local.get $dx) (local.get $end)))
      (f32.store (local.get $dx) (select (f32.load (local.get $dy)) (f32.const 0) (f32.gt (f32.load (local.get $x)) (f32.const 0))))
      (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $dx (i32.add (local.get $dx) (i32.const 4)))
      (br $s))))

  ;; see the header: bias + ReLU, forward
  (func (export "biasRelu") (param $x i32) (param $b i32) (param $out i32) (param $M i32) (param $L i32)
    (local $end i32) (local $rowBytes i32) (local $cb i32)
    (local.set $rowBytes (i32.shl (local.get $L) (i32.const 2)))
    (local.set $end (i32.add (local.get $out) (i32.mul (local.get $M) (local.get $rowBytes))))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (local.set $cb (i32.const 0))
      (block $chDone (loop $ch
        (br_if $chDone (i32.ge_u (local.get $cb) (local.get $rowBytes)))
        (v128.store (i32.add (local.get $out) (local.get $cb))
          (f32x4.max
            (f32x4.add (v128.load (i32.add (local.get $x) (local.get $cb))) (v128.load (i32.add (local.get $b) (local.get $cb))))
            (v128.const f32x4 0 0 0 0)))
        (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
        (br $ch)))
      (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
      (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
      (br $rows))))

  ;; see the header: bias + ReLU, backward (the masked gradient and its sums per lane position)
  (func (export "reluGradSum") (param $dy i32) (param $y i32) (param $dx i32) (param $M i32) (param $L i32) (param $acc32 i32) (param $acc64 i32)
    (local $row i32) (local $blockEnd i32) (local $rowBytes i32) (local $cb i32) (local $v v128)
    (local.set $rowBytes (i32.shl (local.get $L) (i32.const 2)))
    (call $zero64 (local.get $acc64) (local.get $L))
    (local.set $row (i32.const 0))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $row) (local.get $M)))
      (call $zero32 (local.get $acc32) (local.get $L))
      (local.set $blockEnd (i32.add (local.get $row) (i32.const 64)))
      (if (i32.gt_u (local.get $blockEnd) (local.get $M)) (then (local.set $blockEnd (local.get $M))))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $blockEnd)))
        (local.set $cb (i32.const 0))
        (block $chDone (loop $ch
          (br_if $chDone (i32.ge_u (local.get $cb) (local.get $rowBytes)))
          (local.set $v (v128.and (v128.load (i32.add (local.get $dy) (local.get $cb)))
            (f32x4.gt (v128.load (i32.add (local.get $y) (local.get $cb))) (v128.const f32x4 0 0 0 0))))
          (v128.store (i32.add (local.get $dx) (local.get $cb)) (local.get $v))
          (v128.store (i32.add (local.get $acc32) (local.get $cb))
            (f32x4.add (v128.load (i32.add (local.get $acc32) (local.get $cb))) (local.get $v)))
          (local.set $cb (i32.add (local.get $cb) (i32.const 16)))
          (br $ch)))
        (local.set $dy (i32.add (local.get $dy) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (local.get $rowBytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))
      (call $flush (local.get $acc32) (local.get $acc64) (local.get $L))
      (br $blocks))))

  ;; see the header: one Adam step
  (func (export "adam") (param $x i32) (param $g i32) (param $m i32) (param $v i32) (param $ox i32) (param $om i32) (param $ov i32)
    (param $n i32) (param $lr f32) (param $b1 f32) (param $b2 f32) (param $eps f32) (param $c1 f32) (param $c2 f32)
    (local $vend i32) (local $end i32) (local $gv v128) (local $mv v128) (local $vv v128)
    (local $B1 v128) (local $B2 v128) (local $A1 v128) (local $A2 v128) (local $C1 v128) (local $C2 v128) (local $E v128) (local $LR v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $A1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $A2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $LR (f32x4.splat (local.get $lr)))
    (local.set $end (i32.add (local.get $ox) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $ox) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vDone (loop $l
      (br_if $vDone (i32.ge_u (local.get $ox) (local.get $vend)))
      (local.set $gv (v128.load (local.get $g)))
      (local.set $mv (f32x4.add (f32x4.mul (v128.load (local.get $m)) (local.get $B1)) (f32x4.mul (local.get $gv) (local.get $A1))))
      (local.set $vv (f32x4.add (f32x4.mul (v128.load (local.get $v)) (local.get $B2))
        (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $A2))))
      (v128.store (local.get $om) (local.get $mv))
      (v128.store (local.get $ov) (local.get $vv))
      (v128.store (local.get $ox) (f32x4.sub (v128.load (local.get $x))
        (f32x4.mul (local.get $LR) (f32x4.div (f32x4.div (local.get $mv) (local.get $C1))
          (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (local.get $C2))) (local.get $E))))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $v (i32.add (local.get $v) (i32.const 16)))
      (local.set $ox (i32.add (local.get $ox) (i32.const 16)))
      (local.set $om (i32.add (local.get $om) (i32.const 16)))
      (local.set $ov (i32.add (local.get $ov) (i32.const 16)))
      (br $l)))
    (block $sDone (loop $s
      (br_if $sDone (i32.ge_u (local.get $ox) (local.get $end)))
      (local.set $gs (f32.load (local.get $g)))
      (local.set $ms (f32.add (f32.mul (f32.load (local.get $m)) (local.get $b1)) (f32.mul (local.get $gs) (f32.sub (f32.const 1) (local.get $b1)))))
      (local.set $vs (f32.add (f32.mul (f32.load (local.get $v)) (local.get $b2))
        (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (f32.sub (f32.const 1) (local.get $b2)))))
      (f32.store (local.get $om) (local.get $ms))
      (f32.store (local.get $ov) (local.get $vs))
      (f32.store (local.get $ox) (f32.sub (f32.load (local.get $x))
        (f32.mul (local.get $lr) (f32.div (f32.div (local.get $ms) (local.get $c1))
          (f32.add (f32.sqrt (f32.div (local.get $vs) (local.get $c2))) (local.get $eps))))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $g (i32.add (local.get $g) (i32.const 4)))
      (local.set $m (i32.add (local.get $m) (i32.const 4)))
      (local.set $v (i32.add (local.get $v) (i32.const 4)))
      (local.set $ox (i32.add (local.get $ox) (i32.const 4)))
      (local.set $om (i32.add (local.get $om) (i32.const 4)))
      (local.set $ov (i32.add (local.get $ov) (i32.const 4)))
      (br $s))))
)
