/**
 * What is wrong with a text that is not JSON, for an error message that names the file: the line and column
 * where it stops being JSON (JSON.parse gives a character position), then the parser's own words.
 */
export function jsonProblem(text: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const what = message.replace(/ in JSON at position \d+.*$/s, '').replace(/ of JSON input$/, '');
  const m = /at position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : /end of JSON input/.test(message) ? text.length : -1;
  if (pos < 0) return `not valid JSON (${what})`;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `not valid JSON at line ${line}, column ${column}: ${what}`;
}

/** JSON.parse, or the problem (jsonProblem) as the error's message. */
export function parseJson(text: string): { value: unknown } | { problem: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { problem: jsonProblem(text, e) };
  }
}
