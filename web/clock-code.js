// The publisher's clock, drawn into the video as black and white blocks and read back from decoded
// frames: glass-to-glass latency without any side channel. Both pages must share a clock (same
// machine, or synchronised ones).
//
// Layout: COLS x ROWS blocks in the top-left corner, each 1/18 of the frame height, so the code
// survives any downscaling (simulcast layers) that keeps the aspect ratio. 40 bits: the low 32
// bits of Date.now() (wraps every ~49 days; differences are taken modulo 2^32) and an 8-bit check
// that rejects partly decoded or unstamped frames.

export const COLS = 8;
export const ROWS = 5;
const BLOCKS_PER_HEIGHT = 18;
const SAMPLE = 4; // pixels per block in the reading canvas
const TWO32 = 2 ** 32;

export function clockNow() {
  return Date.now() % TWO32;
}

function checkByte(v) {
  return (((v >>> 24) + ((v >>> 16) & 255) + ((v >>> 8) & 255) + (v & 255)) & 255) ^ 0xa5;
}

/** The region the code covers in a frame of the given height: { block, width, height }. */
export function codeArea(frameHeight) {
  const block = frameHeight / BLOCKS_PER_HEIGHT;
  return { block, width: COLS * block, height: ROWS * block };
}

/** Draws `value` (32-bit ms clock) into a 2D context whose canvas is `frameHeight` tall. */
export function drawClock(ctx, frameHeight, value = clockNow()) {
  const { block } = codeArea(frameHeight);
  const word = value >>> 0;
  const check = checkByte(word);
  for (let i = 0; i < COLS * ROWS; i++) {
    const bit = i < 32 ? (word >>> (31 - i)) & 1 : (check >>> (39 - i)) & 1;
    ctx.fillStyle = bit ? '#fff' : '#000';
    ctx.fillRect((i % COLS) * block, Math.floor(i / COLS) * block, block, block);
  }
}

/** Reads the clock back from a video element's current frame. */
export class ClockReader {
  constructor() {
    this.canvas = document.createElement('canvas');
    this.canvas.width = COLS * SAMPLE;
    this.canvas.height = ROWS * SAMPLE;
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
  }

  /** The 32-bit clock in the frame, or null when there is none (or it does not check out). */
  read(video) {
    if (!video.videoHeight) return null;
    const area = codeArea(video.videoHeight);
    this.ctx.drawImage(video, 0, 0, area.width, area.height, 0, 0, this.canvas.width, this.canvas.height);
    const px = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height).data;
    let word = 0;
    let check = 0;
    for (let i = 0; i < COLS * ROWS; i++) {
      // Average the 2x2 centre of each block: its edges bleed after scaling and compression.
      const x0 = (i % COLS) * SAMPLE + 1;
      const y0 = Math.floor(i / COLS) * SAMPLE + 1;
      let sum = 0;
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const o = ((y0 + dy) * this.canvas.width + x0 + dx) * 4;
          sum += px[o] * 0.299 + px[o + 1] * 0.587 + px[o + 2] * 0.114;
        }
      }
      const bit = sum / 4 > 128 ? 1 : 0;
      if (i < 32) word = ((word << 1) | bit) >>> 0;
      else check = (check << 1) | bit;
    }
    return check === checkByte(word) ? word : null;
  }
}

/** now - value in ms, modulo 2^32; negative when value is ahead of now. */
export function latencyOf(value, now = clockNow()) {
  const d = (now - value + TWO32) % TWO32;
  return d < TWO32 / 2 ? d : d - TWO32;
}
