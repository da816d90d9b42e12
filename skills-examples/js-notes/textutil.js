// Helpers of js-notes: a module next to app.js, imported with a relative path like any other.

/** Collapses runs of white space and trims the ends. */
export function clean(text) {
  return text.replace(/\s+/g, " ").trim();
}

/** The host of an `https://` URL, or null when `url` is not one (no `URL` in the engine). */
export function httpsHost(url) {
  const match = /^https:\/\/([^/?#@\s]+)([/?#]\S*)?$/i.exec(url);
  return match ? match[1] : null;
}
