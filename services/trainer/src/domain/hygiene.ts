// Text hygiene for dataset passages: the normal form behind exact de-duplication, and the scrub that replaces
// e-mail addresses and phone numbers with placeholders. Both are heuristics tuned to keep prose intact: a
// phone number needs 7 to 15 digits in a phone-like layout, so years, dates, versions, IP addresses and
// plain numbers are left alone.

/** Case, accents-as-written, punctuation and spacing folded away: equal normal forms are exact duplicates. */
export function normalizeForDedup(text: string): string {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  ).join(' ');
}

export const EMAIL_PLACEHOLDER = '[email]';
export const PHONE_PLACEHOLDER = '[phone]';

const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}(?![\p{L}\p{N}])/gu;

// An optional +country code, an optional (area code), then up to 5 groups of digits joined by one space,
// dot or hyphen. Checked further in isPhone.
const PHONE =
  /(?<![\p{L}\p{N}+\-.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,8}){0,4}(?![\p{L}\p{N}]|[.-]\d)/gu;

const DATE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$/;
const YEAR_RANGE = /^(?:1[89]|20)\d{2}[ -](?:1[89]|20)\d{2}$/;
const DOTTED_QUAD = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function isPhone(match: string): boolean {
  const digits = match.replace(/\D/g, '').length;
  if (digits < 7 || digits > 15) return false;
  if (DATE.test(match) || YEAR_RANGE.test(match) || DOTTED_QUAD.test(match)) return false;
  const international = match.startsWith('+');
  const areaCode = match.includes('(');
  const separators = (match.match(/[ .-]/g) ?? []).length;
  // A bare run of digits ("20231115", an id) is not a phone number; a laid-out one is.
  if (international || areaCode) return true;
  if (separators >= 2) return true;
  return separators === 1 && digits >= 9;
}

export interface Scrubbed {
  text: string;
  emails: number;
  phones: number;
}

/** Replaces e-mail addresses with [email] and phone numbers with [phone], counting each. */
export function scrubPii(text: string): Scrubbed {
  let emails = 0;
  let phones = 0;
  const noEmails = text.replace(EMAIL, () => {
    emails++;
    return EMAIL_PLACEHOLDER;
  });
  const out = noEmails.replace(PHONE, (m) => {
    if (!isPhone(m)) return m;
    phones++;
    return PHONE_PLACEHOLDER;
  });
  return { text: out, emails, phones };
}
