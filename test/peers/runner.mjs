// What every runner script inside a test's network namespace starts with: JSON lines on stdout
// (the test reads them through runInNetns), and a watchdog that reports and exits if the script
// outlives its budget, so a hung browser or relay fails the test with a reason instead of a hang.
export const say = (m) => console.log(JSON.stringify(m));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** After `ms`: prints {event:'error', error:'watchdog'} and exits with 3 (unref'd). */
export function watchdog(ms) {
  setTimeout(() => {
    say({ event: 'error', error: 'watchdog' });
    process.exit(3);
  }, ms).unref();
}
