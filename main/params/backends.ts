/**
 * The backends Hearth knows (llama.cpp's backend modules: libggml-<name>.so) and the pins the user may
 * choose, once. Which of them a build has is what the engine finds next to the addon
 * (BackendChoice.built); the settings offer only those (`pinsFor`).
 */

/** the backend setting: 'auto' or one backend */
export const BACKEND_PINS = ['auto', 'cuda', 'metal', 'vulkan', 'cpu'] as const;
export type BackendPin = (typeof BACKEND_PINS)[number];
/** the order 'auto' tries the GPU backends in (the CPU comes last) */
export const GPU_ORDER = ['cuda', 'metal', 'vulkan'] as const;
export const BACKEND_NAMES: Record<Exclude<BackendPin, 'auto'>, string> = { cuda: 'CUDA', metal: 'Metal', vulkan: 'Vulkan', cpu: 'CPU' };

/** The pins a build whose backend modules are `built` (e.g. ['cpu', 'vulkan']) offers: auto, its GPU backends in order, the CPU. */
export function pinsFor(built: readonly string[]): BackendPin[] {
  return ['auto', ...GPU_ORDER.filter((b) => built.includes(b)), 'cpu'];
}

/** A pin in words: "Auto (Vulkan → CPU)" names what auto tries on this build. */
export function pinLabel(pin: BackendPin, built: readonly string[]): string {
  if (pin === 'auto') return `Auto (${pinsFor(built).slice(1).map((b) => BACKEND_NAMES[b as Exclude<BackendPin, 'auto'>]).join(' → ')})`;
  return pin === 'cpu' ? 'CPU only' : BACKEND_NAMES[pin];
}
