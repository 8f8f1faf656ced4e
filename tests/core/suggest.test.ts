// "Did you mean": edit distance against hand-counted values, the slip limit, and unique shortenings.
import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, nearest } from '../../src/core/suggest.js';

describe('did you mean', () => {
  it('counts edits by hand: a substitution, an insertion, an adjacent swap are one each; case does not count', () => {
    expect(editDistance('words', 'wordz')).toBe(1);
    expect(editDistance('words', 'word')).toBe(1);
    expect(editDistance('words', 'wrods')).toBe(1); // adjacent swap
    expect(editDistance('kitten', 'sitting')).toBe(3); // the textbook pair
    expect(editDistance('MNIST', 'mnist')).toBe(0);
  });

  it('suggests a slip (a third of the letters off at most) and nothing far away', () => {
    const known = ['mnist', 'fashion-mnist', 'cifar10'];
    expect(nearest('mnsit', known)).toBe('mnist');
    expect(nearest('fashon-mnist', known)).toBe('fashion-mnist');
    expect(nearest('imagenet', known)).toBeNull();
  });

  it('suggests the one name a shortening starts (3 letters or more), and nothing when several start with it', () => {
    expect(nearest('fashion', ['mnist', 'fashion-mnist', 'cifar10'])).toBe('fashion-mnist');
    expect(didYouMean('cifar', ['mnist', 'fashion-mnist', 'cifar10'])).toBe(" (did you mean 'cifar10'?)");
    expect(nearest('bow', ['bow-sift', 'bow-sift-spm'])).toBeNull(); // two start with it
    expect(nearest('fa', ['fashion-mnist'])).toBeNull(); // too short to mean one
  });
});
