// Pinyin initials (社保医保 → SBYB) for the guide desk's search, with no
// dictionary: the browser's pinyin collation (ICU) orders characters by
// pinyin, so the first letter of a character is that of the last of these
// boundary characters (the first character of each initial) not after it.
const BOUNDS = '阿八嚓哒妸发旮哈讥咔垃痳拏噢妑七呥扨它穵夕丫帀';
const LETTERS = 'ABCDEFGHJKLMNOPQRSTWXYZ';
const collator = new Intl.Collator('zh-Hans-CN-u-co-pinyin');

export function initial(ch) {
  if (/[a-z0-9]/i.test(ch)) return ch.toUpperCase();
  if (!/[\u4e00-\u9fff]/.test(ch)) return '';
  let letter = '';
  for (let i = 0; i < BOUNDS.length; i += 1) {
    if (collator.compare(ch, BOUNDS[i]) >= 0) letter = LETTERS[i];
    else break;
  }
  return letter;
}

export function initials(text) {
  return [...text].map(initial).join('');
}

/** Whether `query` matches `text` as written or by pinyin initials. */
export function matches(text, query) {
  const q = query.trim().toUpperCase();
  if (!q) return true;
  return text.toUpperCase().includes(q) || initials(text).includes(q);
}
