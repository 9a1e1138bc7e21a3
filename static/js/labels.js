// Names of several jobs shown side by side. Names are never cut blindly: each keeps its full
// text, and only names that would be confused get told apart, a duplicate by its short id and
// a long name that shares a long start with another by the part where it differs.

/** Names at most this long are always shown whole. */
const LONG = 28;
/** A shared start at least this long makes two long names look alike. */
const ALIKE = 12;
/** A shortened name keeps at least this much. */
const MIN_SUFFIX = 6;
/** Where a name's words break, so a shortened name starts at a whole word. */
const BREAK = /[\s\-_/.,:;()[\]]/;

function commonPrefix(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

/**
 * `jobs` is [{ id, name }]. Returns Map id -> { full, short }: `full` is the name (with the
 * short id where another job has the same name), `short` is `full`, or for a long name that
 * starts like another, `…` and the words from where they differ (the chart legends' label).
 */
export function distinctLabels(jobs) {
  const labels = new Map();
  for (const { id, name } of jobs) {
    const others = jobs.filter((j) => j.id !== id);
    const duplicate = others.some((j) => j.name === name);
    const full = duplicate ? `${name} (${id.slice(0, 8)})` : name;
    let short = full;
    if (!duplicate && name.length > LONG) {
      // From where it parts from the first of the names it looks like, so the label shows
      // every part that tells it from any of them.
      const alike = others.map((j) => commonPrefix(name, j.name)).filter((n) => n >= ALIKE);
      if (alike.length) {
        const shared = Math.min(...alike);
        // Back up to the start of the word where the names part, and further while that
        // leaves too little to read (`seed-1`, not `1`).
        let start = shared;
        while (start > 0 && !BREAK.test(name[start - 1])) start -= 1;
        while (start > 0 && name.length - start < MIN_SUFFIX) {
          start -= 1; // over the break
          while (start > 0 && !BREAK.test(name[start - 1])) start -= 1;
        }
        if (start > 0) short = `…${name.slice(start)}`;
      }
    }
    labels.set(id, { full, short });
  }
  return labels;
}
