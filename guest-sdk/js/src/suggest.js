// "Did you mean": the allowed key a misspelt one was meant to be.

const squash = (key) => key.toLowerCase().replace(/[-_\s]/g, "");

/**
 * The key of `allowed` that `key` most likely meant: the same letters in another case or
 * separator style (`input_schema` → `inputSchema`), else one within two edits
 * (`header` → `headers`); "" when none is close.
 */
export function closest(key, allowed) {
  const wanted = squash(String(key));
  const same = allowed.find((k) => squash(k) === wanted);
  if (same) return same;
  let best = "";
  let bestDistance = 3;
  for (const candidate of allowed) {
    const distance = edits(wanted, squash(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// Levenshtein distance.
function edits(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost));
    }
    previous = current;
  }
  return previous[b.length];
}
