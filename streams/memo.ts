/**
 * `compute` remembered per key: for values a hot path asks again and again (the midnight of
 * a day string, the day of an instant, one shared copy of an id). Past `max` keys everything
 * is forgotten at once, so memory stays bounded however long the history.
 *
 * @example
 *   const midnight = memoized((day: string) => Date.parse(`${day}T00:00:00.000Z`));
 */
export function memoized<K, V>(compute: (key: K) => V, max = 100_000): (key: K) => V {
  const known = new Map<K, V>();
  return (key: K): V => {
    let v = known.get(key);
    if (v === undefined) {
      v = compute(key);
      if (known.size >= max) known.clear();
      known.set(key, v);
    }
    return v;
  };
}
