/** A classifier's name as a folder name (letters, digits, '.', '_', '-'; never '.' or '..'). */
export function folderName(name: string): string {
  const s = name.replace(/[^\w.-]+/g, '_');
  return /^[.]/.test(s) || s === '' ? `_${s}` : s;
}
