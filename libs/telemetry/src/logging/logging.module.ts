import { DynamicModule, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { destination } from 'pino';

/** The ids of the span active right now, in the field names Jaeger and Grafana look for. */
function activeTraceIds(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}

const requestPath = (req: IncomingMessage): string => (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';

/** Fields whose values are credentials or one-time secrets, wherever they appear in a log line (top level or two levels down). */
const SECRET_FIELDS = ['token', 'accessToken', 'refreshToken', 'idToken', 'cardToken', 'verificationCode', 'password', 'secret', 'apiKey'];

/**
 * Paths pino replaces with `[Redacted]` in every line: the credentials a
 * request carries in its headers, the cookies an answer sets, and any
 * {@link SECRET_FIELDS} field a line includes (an error's context, a command).
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

export interface LoggingOptions {
  serviceName: string;
  level: string;
}

/** Says when and why the application closed, so a restart in the logs has a cause. */
@Injectable()
class ShutdownLog implements OnApplicationShutdown {
  private readonly logger = new Logger('Lifecycle');

  onApplicationShutdown(signal?: string): void {
    this.logger.log({ signal }, 'application shut down');
  }
}

/**
 * JSON logs through pino, behind Nest's Logger: the one logger type of the
 * libs is Nest's `LoggerService` (`new Logger(context)`, or one passed in),
 * called pino-style, `warn({ ...fields }, 'message')`; nestjs-pino keeps the
 * fields as JSON. With telemetry started, every line written inside a
 * span carries `trace_id` and `span_id`, so a log line leads to its trace.
 */
@Module({})
export class LoggingModule {
  static forRoot(options: LoggingOptions): DynamicModule {
    return {
      module: LoggingModule,
      providers: [ShutdownLog],
      imports: [
        LoggerModule.forRoot({
          pinoHttp: [
            {
              level: options.level,
              base: { service: options.serviceName },
              // A request's logger is bound at its start, inside the HTTP server span,
              // so even "request completed" (written after the span ends) carries its ids.
              customProps: () => activeTraceIds(),
              // Any other line written inside a span gets the ids of that span.
              mixin: (_object, _level, logger) => ('trace_id' in logger.bindings() ? {} : activeTraceIds()),
              redact: [...LOG_REDACT_PATHS],
              // Probes and scrapes would drown everything else.
              // Under Fastify, Nest's middleware sees the path in originalUrl (url is the mount point).
              autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(requestPath(req)) },
            },
            // Synchronous writes: NestJS re-raises SIGTERM right after its shutdown
            // hooks, and pino's default asynchronous stream would lose the last
            // lines (the shutdown itself) when the process dies by that signal.
            destination({ dest: 1, sync: true }),
          ],
        }),
      ],
    };
  }
}
