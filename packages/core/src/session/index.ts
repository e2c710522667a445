export {
  compareStamps,
  HybridClock,
  type HybridClockOptions,
  MAX_STAMP_COUNTER,
  maxStamp,
  type Stamp,
  stampAfter,
  ZERO_STAMP,
} from './hlc.js'
export { BucketDigests, bucketOf, DIGEST_BUCKETS, recordDigest } from './digest.js'
export {
  attributeNameProblem,
  isValidSessionId,
  MAX_ATTRIBUTE_NAME_LENGTH,
  MAX_ATTRIBUTES_PER_DELTA,
  MAX_NODE_ID_LENGTH,
  MAX_ROUTE_LENGTH,
  MAX_SESSION_ID_LENGTH,
} from './limits.js'
export { AttributeSet, type AttrWrite } from './attributes.js'
export {
  type CanonicalRecord,
  canonicalRecord,
  type Delta,
  deltaMaxStamp,
  emptyRecord,
  isDestroyed,
  isPartialCopy,
  isUnsetRegister,
  liveAttributes,
  type Register,
  recordsEqual,
  recordToDelta,
  type SessionRecord,
  UNSET_MAX_INACTIVE,
  UNSET_ROUTE,
} from './record.js'
export { applyDelta, type MergeResult, type SessionChange } from './merge.js'
export { fromWire, toWire, type WireDelta, wireDeltaTarget } from './wire.js'
export { readStamp } from './wire-checks.js'
export { recordFromWire, recordToWire, type WireRecord, WireStrings, WireStringTable } from './wire-record.js'
export { type DiffOptions, diffSession, isEmptyDiff, type LoadedSession, loadSession, type SessionDiff } from './view.js'
export {
  commitLocalChange,
  deltaForLocalChange,
  type LocalChange,
  type LocalCommit,
  type StampSource,
} from './commit.js'
export { SessionTable, type SessionTableOptions } from './store.js'
