/**
 * Distinct, valid phone numbers for the whole run: +1 415 NXX XXXX from +14152000000 on
 * (every exchange 200-999 of area code 415 is valid and dialable per libphonenumber's full
 * metadata). No number is used twice in a run, so per-number limits never kick in.
 */
const FIRST = 2_000_000;
const LAST = 9_999_999;

export class NumberSource {
  private next = 0;

  take(): string {
    const n = FIRST + this.next++;
    if (n > LAST) throw new Error('NumberSource: out of distinct numbers');
    return `+1415${n}`;
  }

  /** How many numbers were handed out. */
  get used(): number {
    return this.next;
  }
}
