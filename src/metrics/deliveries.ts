import { AsyncLocalStorage } from 'node:async_hooks';
import type { DeliveryReceipt } from './snapshot.ts';

/** Whoever issued a receipt and can acknowledge it (a manual-acknowledge producer). */
export interface Acknowledger {
  acknowledge(receipt: DeliveryReceipt): void;
}

/**
 * The receipts of the producer collections one reader collection caused: acknowledge() them
 * once what carried that collection (a scrape's response, an export) arrived. Dropping it
 * unacknowledged is how a failed delivery is said: the final readings go out again.
 */
export class Deliveries {
  private readonly items: Array<{ to: Acknowledger; receipt: DeliveryReceipt }> = [];

  /** Final readings the collection carried. */
  get finals(): number {
    let n = 0;
    for (const i of this.items) n += i.receipt.finals;
    return n;
  }

  record(to: Acknowledger, receipt: DeliveryReceipt): void {
    this.items.push({ to, receipt });
  }

  acknowledge(): void {
    for (const { to, receipt } of this.items) to.acknowledge(receipt);
  }
}

// A reader's collect() calls its producers' collect() in its own async context: this ties each
// producer collection to the reader collection (one HTTP request, one export) that caused it.
const scope = new AsyncLocalStorage<Deliveries>();

/**
 * Runs `collect` (a reader's collect(), or anything that collects manual-acknowledge
 * producers) and returns its result with the receipts of the producer collections it caused.
 */
export async function collectDeliveries<T>(collect: () => Promise<T>): Promise<{ result: T; deliveries: Deliveries }> {
  const deliveries = new Deliveries();
  const result = await scope.run(deliveries, collect);
  return { result, deliveries };
}

/** Records a receipt with the collectDeliveries() call in whose async context it is issued; false when there is none. */
export function recordDelivery(to: Acknowledger, receipt: DeliveryReceipt): boolean {
  const d = scope.getStore();
  d?.record(to, receipt);
  return d !== undefined;
}
