import type { LogMessage, LogRecord } from '../../../ports/log.ts'

/**
 * How the embedded log keeps one topic's records: in an LMDB environment of its own (lmdb-topic.ts)
 * or in segment files (segment-topic.ts). Reads, from any thread, see what was appended in another;
 * appends come from one thread only — the topic's one writer, which assigns the offsets.
 */
export interface TopicStorage {
  /** Appends each partition's records after its last, all stamped `timestamp`; resolves once they are on disk. */
  append(byPartition: Map<number, LogRecord[]>, timestamp: number): Promise<void>
  read(partition: number, fromOffset: number, maxMessages: number): LogMessage[]
  /** The offset after the partition's last record. */
  end(partition: number): number
  /**
   * Removes records before `offset` last written before `writtenBefore` (epoch ms), in whole
   * pieces as the storage keeps them, where it can; returns how many pieces it removed.
   */
  removeBefore?(partition: number, offset: number, writtenBefore: number): number
  close(): Promise<void>
}
