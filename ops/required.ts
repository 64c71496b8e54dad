/**
 * `FLOE_REQUIRE=postgres,kafka`: backends whose absence must fail a run (tests, bench)
 * instead of skipping what needs them. CI sets it, so nothing required is ever skipped there.
 */
export function isRequired(backend: 'postgres' | 'kafka'): boolean {
  return (process.env.FLOE_REQUIRE ?? '').split(',').some((s) => s.trim() === backend);
}
