// Whether Dawn finds an adapter here (a software one in CI): the webgpu group skips itself, saying why, when not.
import { useBackend } from '../../src/backend/index.js';

export async function webgpuAdapter(group: string): Promise<boolean> {
  try {
    await useBackend('webgpu', { allowSoftware: true });
    await useBackend('wasm');
    return true;
  } catch (e) {
    console.warn(`${group} skipped: ${(e as Error).message}`);
    return false;
  }
}
