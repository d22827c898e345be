// Types of the cellgw Node.js client (index.js). Messages mirror proto/cellgw/v1/gateway.proto
// with its field names (snake_case); see the proto for what each field means.
import type { ChannelCredentials, ChannelOptions, Client, ServiceError, status as grpcStatus } from '@grpc/grpc-js';

/** "127.0.0.1:50051". */
export declare const DEFAULT_ADDR: string;
/** 30000: the deadline every request gets unless the caller gives one. */
export declare const DEFAULT_DEADLINE_MS: number;
/** The variables settingsFromEnv() reads, by setting name. */
export declare const ENV: Readonly<{
  addr: 'CELLGW_ADDR';
  caFile: 'CELLGW_CA_FILE';
  certFile: 'CELLGW_CERT_FILE';
  keyFile: 'CELLGW_KEY_FILE';
  token: 'CELLGW_TOKEN';
}>;
/** Where the .proto files are read from: $CELLGW_PROTO_DIR, else the repository's proto/. */
export declare const PROTO_DIR: string;
/** gRPC status codes (grpc-js's enum), to compare with ServiceError.code. */
export declare const status: typeof grpcStatus;

/** How to reach a gateway. */
export interface ConnectionSettings {
  /** "host:port"; default DEFAULT_ADDR. */
  addr?: string;
  /** PEM CAs for the gateway's certificate. Any of caFile, certFile, keyFile turns TLS on. */
  caFile?: string;
  /** Client certificate (PEM, leaf first) for mutual TLS; needs keyFile. */
  certFile?: string;
  keyFile?: string;
  /** Sent as "authorization: Bearer <token>" with every request (also over plaintext). */
  token?: string;
}

/** Thrown when settings cannot work: a missing or malformed file, half a key pair. */
export declare class SettingsError extends Error {}

/** DEFAULT_ADDR overridden by the CELLGW_* variables that are set (empty counts as unset). */
export declare function settingsFromEnv(env?: NodeJS.ProcessEnv): ConnectionSettings & { addr: string };
export declare function usesTls(settings: ConnectionSettings): boolean;
/** Throws SettingsError. */
export declare function channelCredentials(settings: ConnectionSettings): ChannelCredentials;

export interface Target {
  cell?: string;
  exchange?: string;
  topic: string;
  namespace?: string;
  version?: string;
  server?: string;
}

/** google.protobuf.Duration; int64 seconds as a string or a number. */
export interface Duration {
  seconds?: string | number;
  nanos?: number;
}

export interface CastRequest {
  target: Target;
  method: string;
  /** A JSON object: the keyword arguments. Empty means {}. */
  args_json?: string;
  /** A JSON object: the request context. Empty means {}. */
  context_json?: string;
}
export type FanoutRequest = CastRequest;
export interface CallRequest extends CastRequest {
  timeout?: Duration;
  call_monitor_timeout?: Duration;
}

export interface CastResponse {
  unique_id: string;
}
export type FanoutResponse = CastResponse;
export interface CallResponse {
  /** The method's return value as JSON text, exactly as the server sent it. */
  result_json: string;
  msg_id: string;
}
export interface CellInfo {
  name: string;
  connected: boolean;
  transport_url: string;
  control_exchange: string;
}
export interface ListCellsResponse {
  cells: CellInfo[];
}

/** The exception a remote method raised (cellgw.v1.RemoteError). */
export interface RemoteError {
  exception_class: string;
  exception_module: string;
  message: string;
  traceback: string[];
  /** A JSON array. */
  args_json: string;
  /** A JSON object. */
  kwargs_json: string;
}

export interface RequestOptions {
  /** Absolute deadline; default DEFAULT_DEADLINE_MS from now. */
  deadline?: Date | number;
  /** Sent as x-request-id. */
  requestId?: string;
}

/** A cellgw gateway. Failed requests reject with grpc-js's ServiceError. */
export declare class CellgwClient {
  /** Throws SettingsError. Default settings: settingsFromEnv(). */
  constructor(settings?: ConnectionSettings, channelOptions?: ChannelOptions);
  readonly settings: ConnectionSettings & { addr: string };
  /** The grpc-js client underneath (methods Cast, Call, Fanout, ListCells). */
  readonly raw: Client;
  cast(request: CastRequest, options?: RequestOptions): Promise<CastResponse>;
  call(request: CallRequest, options?: RequestOptions): Promise<CallResponse>;
  fanout(request: FanoutRequest, options?: RequestOptions): Promise<FanoutResponse>;
  listCells(options?: RequestOptions): Promise<ListCellsResponse>;
  close(): void;
}

/** The RemoteError in a failed request's grpc-status-details-bin trailer, or null. */
export declare function remoteErrorOf(error: unknown): RemoteError | null;
/** "INVALID_ARGUMENT" for 3; "UNKNOWN" for codes gRPC does not define. */
export declare function codeName(code: number): string;
/** The error as cellgw-cli prints it: "CODE: message" and the RemoteError's fields. */
export declare function describeError(error: ServiceError | Error | unknown): string;

/** The loaded protos: the service constructor and the message types the client decodes. */
export declare function api(): {
  CellGateway: import('@grpc/grpc-js').ServiceClientConstructor;
  Status: import('protobufjs').Type;
  RemoteError: import('protobufjs').Type;
};
