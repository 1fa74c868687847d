/**
 * What OneDrive and SharePoint refuse in a name, and the rules knarr encodes by: rclone's default
 * onedrive encoding `Slash,LtGt,DoubleQuote,Colon,Question,Asterisk,Pipe,BackSlash,Del,Ctl,
 * LeftSpace,LeftTilde,RightSpace,RightPeriod,InvalidUtf8,Dot`, so a tree written by either tool
 * reads the same in the other. Names that no encoding can save (reserved device names, `.lock`,
 * `desktop.ini`, `_vti_`, a path over 400 characters) are refused, never changed.
 */
import type { NameRules } from '../types.js';

export const onedriveNameRules: NameRules = Object.freeze({
  forbiddenChars: '"*:<>?\\|',
  controlChars: true,
  leadingSpace: true,
  leadingTilde: true,
  trailingSpace: true,
  trailingDot: true,
  dotNames: true,
  invalidUnicode: true,
});

/** Microsoft: "The entire decoded file path, including the file name, can't contain more than 400 characters." */
export const MAX_PATH_CHARS = 400;
/** One name: SharePoint and OneDrive cap a segment at 255 characters. */
export const MAX_NAME_CHARS = 255;

const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const RESERVED_EXACT = new Set(['.lock', 'desktop.ini']);

/** Why OneDrive refuses a name as stored (after encoding), or undefined when it takes it. */
export function reservedName(stored: string): string | undefined {
  if (RESERVED.test(stored)) return 'is a reserved device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9)';
  if (RESERVED_EXACT.has(stored.toLowerCase())) return 'is reserved by OneDrive (.lock, desktop.ini)';
  if (stored.startsWith('~$')) return 'starts with ~$, which OneDrive keeps for Office lock files';
  if (stored.toLowerCase().includes('_vti_')) return 'contains _vti_, which SharePoint reserves';
  return undefined;
}
