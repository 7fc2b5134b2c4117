/**
 * Durations in messages, one way everywhere: `500 ms`, `1 s`, `2.5 s`, `5 minutes`, `3 hours`.
 * Whole minutes from two minutes up read better than seconds ("waited 5 minutes"); anything else
 * keeps the unit it was set in, so a message names the very value the user configured.
 */
export function formatDuration(ms: number): string {
  if (ms < 1000 && !Number.isInteger(ms / 1000)) return `${Math.round(ms)} ms`
  const seconds = ms / 1000
  if (seconds >= 2 * 3600 && seconds % 3600 === 0) return `${seconds / 3600} hours`
  if (seconds >= 120 && seconds % 60 === 0) return `${seconds / 60} minutes`
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`
}
