/**
 * Plausible names, addresses and tracker details. Only their shape matters to Floe, but
 * realistic values make a generated store readable when someone debugs a projection.
 */
import type { Random } from './random';

const FIRST_NAMES = [
  'Ada', 'Ben', 'Chloe', 'David', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kira', 'Liam',
  'Maya', 'Noah', 'Olga', 'Pavel', 'Quinn', 'Rosa', 'Sami', 'Tara', 'Umar', 'Vera', 'Wen', 'Yara',
];
const LAST_NAMES = [
  'Adams', 'Berg', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jensen', 'Kowalski',
  'Lopez', 'Moreau', 'Nakamura', 'Okafor', 'Petrov', 'Rossi', 'Silva', 'Tanaka', 'Novak', 'Weber', 'Zhang',
];
const WORDS = [
  'acme', 'apex', 'blue', 'bright', 'cedar', 'delta', 'ember', 'fjord', 'granite', 'harbor', 'iris', 'juniper',
  'kite', 'lumen', 'maple', 'nova', 'orbit', 'pine', 'quartz', 'river', 'summit', 'tide', 'vertex', 'willow',
];
const SUFFIXES = ['Labs', 'Group', 'Systems', 'Partners', 'Digital', 'Works', 'Logistics', 'Health', 'Capital'];
const TLDS = ['com', 'io', 'co', 'net', 'de', 'fr', 'co.uk'];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36',
];
/** What proxy prefetchers (Apple Mail Privacy Protection, Gmail image proxy) identify as. */
const MACHINE_USER_AGENTS = ['Mozilla/5.0', 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)'];
const LINK_PATHS = ['pricing', 'demo', 'case-study', 'blog/launch', 'webinar', 'calendar'];

export const PROVIDERS = ['google', 'microsoft', 'smtp'] as const;
export const PLANS = ['starter', 'growth', 'scale', 'enterprise'] as const;

export function companyName(rng: Random): string {
  const word = rng.pick(WORDS);
  return `${word[0].toUpperCase()}${word.slice(1)} ${rng.pick(SUFFIXES)}`;
}

/** A domain name derived from a company name, made unique by a short random tail. */
export function domainFor(rng: Random, name: string): string {
  return `${name.split(' ')[0].toLowerCase()}-${rng.hex(4)}.${rng.pick(TLDS)}`;
}

export function person(rng: Random): { firstName: string; lastName: string } {
  return { firstName: rng.pick(FIRST_NAMES), lastName: rng.pick(LAST_NAMES) };
}

export function address(local: string, domain: string): string {
  return `${local.toLowerCase()}@${domain}`;
}

export function prospectCompany(rng: Random): { name: string; domain: string } {
  const name = companyName(rng);
  return { name, domain: domainFor(rng, name) };
}

/** A mailbox of the warm-up network that exchanges warm-up emails with the tenant's mailbox. */
export function partnerMailbox(rng: Random): string {
  const { firstName, lastName } = person(rng);
  return address(`${firstName}.${lastName}${rng.int(1, 99)}`, `warmup-${rng.pick(WORDS)}.${rng.pick(TLDS)}`);
}

export function ipAddress(rng: Random): string {
  return `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

export function userAgent(rng: Random, machine: boolean): string {
  return rng.pick(machine ? MACHINE_USER_AGENTS : USER_AGENTS);
}

/** The tracked links of a campaign, on its company's domain. */
export function campaignLinks(rng: Random, domain: string): string[] {
  const count = rng.int(1, 3);
  return Array.from({ length: count }, () => `https://${domain}/${rng.pick(LINK_PATHS)}?utm_source=floe`);
}

export function hardBounce(rng: Random): { smtpCode: number; bounceSubtype: string; reason: string } {
  return rng.pick([
    { smtpCode: 550, bounceSubtype: 'no_such_user', reason: '5.1.1 The email account that you tried to reach does not exist' },
    { smtpCode: 553, bounceSubtype: 'invalid_address', reason: '5.1.3 Invalid recipient address syntax' },
    { smtpCode: 554, bounceSubtype: 'rejected', reason: '5.7.1 Message rejected due to content policy' },
  ]);
}

export function softBounce(rng: Random): { smtpCode: number; bounceSubtype: string; reason: string } {
  return rng.pick([
    { smtpCode: 452, bounceSubtype: 'mailbox_full', reason: '4.2.2 The recipient mailbox is full' },
    { smtpCode: 421, bounceSubtype: 'throttled', reason: '4.7.0 Try again later, too many connections' },
    { smtpCode: 451, bounceSubtype: 'temporary_failure', reason: '4.3.0 Temporary server error' },
  ]);
}

export const DEFERRAL_REASONS = ['greylisted', '421 4.7.28 rate limited', 'recipient server unavailable'];
export const FAILURES = [
  { errorCode: 'AUTH_FAILED', errorMessage: 'SMTP authentication failed for the sending mailbox' },
  { errorCode: 'CONNECTION_TIMEOUT', errorMessage: 'Timed out connecting to the provider' },
  { errorCode: 'QUOTA_EXCEEDED', errorMessage: 'Daily sending quota of the mailbox exceeded' },
];
