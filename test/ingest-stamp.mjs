// An FFmpeg source whose frames carry the wall clock in web/clock-code.js's format (8 x 5 blocks
// of frameHeight/18 in the top-left corner: the low 32 bits of Date.now() MSB first, then the
// check byte), so /watch pages measure glass-to-glass latency of RTMP and SRT ingest as they do
// for the /publish page's stamped camera. The frame's clock is its wall-clock time as the
// `realtime` filter releases it (setpts RTCTIME), drawn by geq on a grey picture.
const COLS = 8;
const ROWS = 5;

function bitExpr(i) {
  // v: the 32-bit clock; s: the sum of its bytes (mod 256); check = s XOR 0xa5.
  if (i < 32) return `mod(floor(ld(0)/${2 ** (31 - i)}),2)`;
  const k = 39 - i;
  const sbit = `mod(floor(ld(1)/${2 ** k}),2)`;
  return (0xa5 >> k) & 1 ? `(1-${sbit})` : sbit;
}

/** The lavfi graph: testsrc2 at `size`, paced in real time, clock-stamped; grey. */
export function stampedGraph({ width = 640, height = 360, rate = 30 } = {}) {
  const block = height / 18;
  // Per pixel: block column and row; inside the code, the bit's colour, else the picture.
  const v = 'st(0,mod(floor(T*1000),4294967296))';
  const s = 'st(1,mod(floor(ld(0)/16777216)+mod(floor(ld(0)/65536),256)+mod(floor(ld(0)/256),256)+mod(ld(0),256),256))';
  const idx = `st(2,floor(Y/${block})*${COLS}+floor(X/${block}))`;
  let bits = '0';
  for (let i = COLS * ROWS - 1; i >= 0; i--) bits = `if(eq(ld(2),${i}),${bitExpr(i)},${bits})`;
  // geq runs on the code's corner only (cropped, stamped, overlaid back): per-pixel expressions
  // over the whole frame would not keep up with real time.
  const code = `${v}+${s}+${idx}+255*(${bits})-(ld(0)+ld(1)+ld(2))`;
  const w = COLS * block;
  const h = ROWS * block;
  return [
    `testsrc2=size=${width}x${height}:rate=${rate},realtime,format=gray,setpts=RTCTIME/(1000000*TB),split[pic][corner]`,
    `[corner]crop=${w}:${h}:0:0,geq=lum='${code.replace(/,/g, '\\,')}'[code]`,
    `[pic][code]overlay=0:0,setpts=N/(${rate}*TB),format=yuv420p[out0]`,
    'sine=frequency=440:sample_rate=48000[out1]',
  ].join(';');
}

/** FFmpeg arguments: the stamped source encoded for low latency (H.264 no B-frames, 1 s GOP, zerolatency; AAC). */
export function stampedSourceArgs({ seconds = 30, rate = 30 } = {}) {
  return ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', stampedGraph({ rate }), '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', String(rate), '-pix_fmt', 'yuv420p', '-b:v', '1500k',
    '-c:a', 'aac', '-b:a', '96k'];
}
