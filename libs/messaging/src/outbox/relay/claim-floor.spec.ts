import { ClaimFloor, type ClaimHorizon } from './claim-floor';

const horizon = (xmin: number, xid: number, lastId: number, lowestRow: number | null): ClaimHorizon => ({
  xmin: BigInt(xmin),
  xid: BigInt(xid),
  lastId: BigInt(lastId),
  lowestRow: lowestRow === null ? null : BigInt(lowestRow),
});

/** Sends a claim and answers it at once with `seen`. */
function claim(floor: ClaimFloor, seen: ClaimHorizon): bigint {
  const { floor: used, ticket } = floor.next();
  floor.observe(ticket, used, seen);
  return used;
}

describe('ClaimFloor', () => {
  it('When claims follow each other and every transaction ends, then the floor moves to the lowest row still there', () => {
    const floor = new ClaimFloor();
    expect(claim(floor, horizon(100, 100, 500, 1))).toBe(0n); // the sequence at 500; nothing vouches for it yet
    expect(floor.value).toBe(0n);
    claim(floor, horizon(101, 101, 1_000, 400)); // a later snapshot: every transaction below 101 has ended
    expect(floor.value).toBe(400n); // rows below 400 are gone; 400 is still there
    claim(floor, horizon(102, 102, 1_000, null)); // the outbox is empty: everything up to 1,000 is done
    expect(floor.value).toBe(1_001n);
    expect(claim(floor, horizon(103, 103, 1_000, null))).toBe(1_001n);
  });

  it('When a transaction that was running keeps running, then the floor does not pass the ids it may still commit', () => {
    const floor = new ClaimFloor();
    claim(floor, horizon(50, 60, 500, 10)); // transaction 50 runs, and may hold any id up to 500
    claim(floor, horizon(50, 70, 900, 10)); // pairs the first with its own id, 70, but 50 still runs
    claim(floor, horizon(50, 80, 900, null));
    expect(floor.value).toBe(0n);
    claim(floor, horizon(75, 90, 900, 600)); // 50 has ended: the first reading is vouched for (70 <= 75), the second not (80)
    expect(floor.value).toBe(501n); // ids up to 500 are settled; those up to 900 may still come from transactions 75-79
    claim(floor, horizon(95, 95, 900, 600));
    expect(floor.value).toBe(600n); // all settled now: the lowest row still there
  });

  it('When the sequence reading was answered after a claim was sent, then that claim cannot vouch for it', () => {
    const floor = new ClaimFloor();
    const first = floor.next();
    const second = floor.next(); // sent before the first answered
    floor.observe(first.ticket, first.floor, horizon(10, 11, 500, null));
    // The second's snapshot may predate the first's reading of the sequence: it must not pair with it.
    floor.observe(second.ticket, second.floor, horizon(20, 20, 500, null));
    expect(floor.value).toBe(0n);
    claim(floor, horizon(30, 30, 500, null)); // sent after both answered
    expect(floor.value).toBe(501n);
  });

  it('When the relay resets the floor, then claims read from 0, and one sent before the reset cannot move it up', () => {
    const floor = new ClaimFloor();
    claim(floor, horizon(1, 1, 100, null));
    claim(floor, horizon(2, 2, 100, null));
    expect(floor.value).toBe(101n);
    const before = floor.next(); // reads from 101
    floor.reset();
    expect(floor.value).toBe(0n);
    // After the reset a row written by hand at 50 is seen again, from 0.
    expect(claim(floor, horizon(5, 6, 100, 50))).toBe(0n);
    claim(floor, horizon(5, 8, 100, 50)); // pairs the reading above with its own id, 8; 5 still runs
    // The claim sent before the reset would vouch for it (9 >= 8), but it read from 101 and never saw row 50.
    floor.observe(before.ticket, before.floor, horizon(9, 9, 100, null));
    expect(floor.value).toBe(0n);
    claim(floor, horizon(9, 9, 100, 50));
    expect(floor.value).toBe(50n);
  });
});
