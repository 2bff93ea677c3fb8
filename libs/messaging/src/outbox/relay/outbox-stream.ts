import type { Client } from 'pg';
import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { PendingOutboxMessage } from '../outbox-publisher';

/**
 * The outbox columns the CDC publication streams: what the relay publishes,
 * and no more. Every other column (a timestamp among them) would be sent by
 * the server and read by the relay for each row, on the event loop that
 * bounds it.
 */
export const STREAMED_COLUMNS = ['id', 'destination', 'topic', 'routing_key', 'message_key', 'payload', 'headers'] as const;

/** An outbox row decoded from the WAL, with its transaction's id and the end of its commit record. */
export interface StreamedRow extends PendingOutboxMessage {
  xid: number;
  commitEndLsn?: string;
}

/** What {@link OutboxStreamPlugin} reads an insert into `outbox` as. */
export interface OutboxInsertMessage {
  tag: 'outbox-insert';
  /** `xid` is 0: the stream's handler sets it from the transaction's begin. */
  row: StreamedRow;
}

export type OutboxStreamMessage = Pgoutput.Message | OutboxInsertMessage;

/** The row field each streamed text column goes to (headers and destination are typed apart). */
const FIELD_OF = {
  id: 'id',
  destination: 'destination',
  topic: 'topic',
  routing_key: 'routingKey',
  message_key: 'key',
  payload: 'payload',
  headers: 'headers',
} as const satisfies Record<(typeof STREAMED_COLUMNS)[number], keyof StreamedRow>;

const INSERT = 0x49; // 'I'
const NEW_TUPLE = 0x4e; // 'N'
const TEXT = 0x74; // 't'
const NULL = 0x6e; // 'n'

/**
 * pgoutput (protocol 1) as the library reads it, except for the one message
 * the relay receives once per row: an insert into `outbox` is read straight
 * into the row the relay publishes. The library reads every tuple into a
 * dictionary object through pg's type parsers, then the relay copies it into
 * its row; on the relay's event loop, which bounds the CDC relay, that was
 * the largest share of its work per row after the Kafka client's. Every other
 * message (begin, commit, relation, logical messages) goes through the
 * library; the relation message of `outbox` tells where each column is.
 * (A plugin of the library's shape, around its own: its parse is typed to
 * return the library's messages only.)
 */
export class OutboxStreamPlugin {
  readonly name = 'pgoutput';
  private readonly pgoutput: PgoutputPlugin;
  /** The replication connection, once started. */
  private client: Client | undefined;
  private outboxOid: number | undefined;
  /** Per streamed column, in the order the server sends them: its name, or undefined for one the relay does not read. */
  private fields: (keyof typeof FIELD_OF | undefined)[] = [];

  /** The columns the relay publishes that `relation` (the outbox's relation message) does not stream. */
  static missingColumns(relation: Pgoutput.MessageRelation): string[] {
    return STREAMED_COLUMNS.filter((column) => !relation.columns.some(({ name }) => name === column));
  }

  constructor(readonly options: Pgoutput.Options) {
    this.pgoutput = new PgoutputPlugin(options);
  }

  start(client: Client, slotName: string, lastLsn: string): Promise<unknown> {
    this.client = client;
    return this.pgoutput.start(client, slotName, lastLsn);
  }

  /**
   * Stops or resumes reading the replication connection: back-pressure, so
   * a backlog of WAL stays in the server rather than in the relay's memory.
   * Messages already read (the rest of the last network read) still come.
   */
  reading(on: boolean): void {
    const socket = this.client?.connection.stream;
    if (on) socket?.resume();
    else socket?.pause();
  }

  parse(buffer: Buffer): OutboxStreamMessage {
    if (buffer[0] === INSERT && this.outboxOid !== undefined && buffer.readInt32BE(1) === this.outboxOid) return this.outboxInsert(buffer);
    const message = this.pgoutput.parse(buffer);
    if (message.tag === 'relation' && message.name === 'outbox') {
      // The relation message comes before the first row of a session, and again after the table changed.
      this.outboxOid = message.relationOid;
      this.fields = message.columns.map(({ name }) => (name in FIELD_OF ? (name as keyof typeof FIELD_OF) : undefined));
    }
    return message;
  }

  /** Reads `I`, relation oid, `N`, then the tuple: a column count and per column a kind (`t` text with its length, `n` null). */
  private outboxInsert(buffer: Buffer): OutboxInsertMessage {
    if (buffer[5] !== NEW_TUPLE) throw new Error('outbox CDC relay: an insert without its new tuple');
    const count = buffer.readInt16BE(6);
    const row: StreamedRow = { xid: 0, id: '', destination: 'kafka', topic: '', routingKey: null, key: '', payload: '', headers: {} };
    let at = 8;
    for (let i = 0; i < count; i++) {
      const kind = buffer[at];
      at += 1;
      if (kind === NULL) continue; // only routing_key may be null; the rest are NOT NULL
      if (kind !== TEXT) throw new Error(`outbox CDC relay: unexpected column kind ${String.fromCharCode(kind)} in an insert`);
      const length = buffer.readInt32BE(at);
      at += 4;
      const field = this.fields[i];
      if (field !== undefined) {
        const text = buffer.toString('utf8', at, at + length);
        if (field === 'headers') row.headers = JSON.parse(text) as Record<string, string>;
        else if (field === 'destination') row.destination = text as StreamedRow['destination'];
        else row[FIELD_OF[field]] = text;
      }
      at += length;
    }
    return { tag: 'outbox-insert', row };
  }
}
