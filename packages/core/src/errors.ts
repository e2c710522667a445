/**
 * Every error this library throws or emits is one of these classes, matched by `name`
 * (`err.name === 'ReplicationTimeoutError'`), never by message text. Each carries `cause` when it wraps another.
 */
export class ClusterError extends Error {
  override name = 'ClusterError'
  /** Stable, machine-readable code, e.g. `ERR_INVALID_PARAMETERS`. */
  readonly code: string = 'ERR_CLUSTER'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

function defineError(name: string, code: string) {
  return class extends ClusterError {
    override name = name
    override readonly code = code
  }
}

/** Bad options at construction time (bad port, bad route name, bad member address...). */
export class InvalidParametersError extends defineError('InvalidParametersError', 'ERR_INVALID_PARAMETERS') {}
/** A non-loopback address without a shared secret (and without the explicit `insecure` opt-out). */
export class InsecureConfigurationError extends defineError('InsecureConfigurationError', 'ERR_INSECURE_CONFIGURATION') {}
/** A frame failed authentication: wrong key, wrong cluster name, tampered or truncated. */
export class DecryptionError extends defineError('DecryptionError', 'ERR_DECRYPTION') {}
/** A frame that authenticated but was seen before, or is too old to be checked. */
export class ReplayError extends defineError('ReplayError', 'ERR_REPLAY') {}
/** A frame bigger than the configured maximum; refused before it is buffered whole or decoded. */
export class FrameTooLargeError extends defineError('FrameTooLargeError', 'ERR_FRAME_TOO_LARGE') {}
/** Bytes that do not decode to a valid message of a known type and version. */
export class MalformedMessageError extends defineError('MalformedMessageError', 'ERR_MALFORMED_MESSAGE') {}
/** A bounded per-peer send queue is full: the frame was not queued. */
export class SendQueueFullError extends defineError('SendQueueFullError', 'ERR_SEND_QUEUE_FULL') {}
/** A peer did not acknowledge (apply) a message within `ackTimeoutMs`. */
export class ReplicationTimeoutError extends defineError('ReplicationTimeoutError', 'ERR_REPLICATION_TIMEOUT') {}
/** A request/response exchange got no answer in time. */
export class RequestTimeoutError extends defineError('RequestTimeoutError', 'ERR_REQUEST_TIMEOUT') {}
/** The receiver failed while applying a message; the remote error text is in the message. */
export class RemoteApplyError extends defineError('RemoteApplyError', 'ERR_REMOTE_APPLY') {}
/**
 * A peer refused a request because it is at one of its bounds (concurrent state transfers, snapshot memory, a
 * request rate). Nothing is wrong with the request: ask again later, or ask another member.
 */
export class PeerBusyError extends defineError('PeerBusyError', 'ERR_PEER_BUSY') {}
/** A discovery cannot work where it was asked to (no multicast on the interface, no such interface). */
export class DiscoveryUnavailableError extends defineError('DiscoveryUnavailableError', 'ERR_DISCOVERY_UNAVAILABLE') {}
/**
 * The members this node reached replicate differently (another `manager`, another number of `backups`): they would
 * not understand each other's replication, so none admits the other, and a node that found no member like itself
 * fails its start instead of running as a cluster of one.
 */
export class ReplicationMismatchError extends defineError('ReplicationMismatchError', 'ERR_REPLICATION_MISMATCH') {}
/** An operation on a component that is not started (or already stopped). */
export class NotStartedError extends defineError('NotStartedError', 'ERR_NOT_STARTED') {}
/** The operation was cancelled through its AbortSignal. */
export class AbortError extends defineError('AbortError', 'ERR_ABORTED') {}
/** Creating one more session would exceed `maxSessions`. */
export class TooManySessionsError extends defineError('TooManySessionsError', 'ERR_TOO_MANY_SESSIONS') {}
/** A session whose encoding exceeds `maxSessionBytes`. */
export class SessionTooLargeError extends defineError('SessionTooLargeError', 'ERR_SESSION_TOO_LARGE') {}
/** A value that cannot be stored in a session (functions, symbols, cycles, class instances the codec refuses). */
export class UnserializableValueError extends defineError('UnserializableValueError', 'ERR_UNSERIALIZABLE_VALUE') {}
/**
 * This node cannot show that its copy of a session holds every acknowledged change (it lost touch with a member
 * that writes, and could not fetch the session from it in time). Carries HTTP status 503, so Express and Fastify
 * answer 503 and a balancer (nginx `proxy_next_upstream http_503`) retries on another node.
 */
export class StaleReplicaError extends defineError('StaleReplicaError', 'ERR_STALE_REPLICA') {
  readonly status = 503
  readonly statusCode = 503
}
