/// <reference lib="deno.worker" />
// A test Worker: echoes `value`, ignores `{ hang: true }` (a Worker that never answers).
self.onmessage = (e: MessageEvent<{ seq: number; value?: number; hang?: boolean }>) => {
  if (e.data.hang) return;
  self.postMessage({ seq: e.data.seq, value: e.data.value });
};
