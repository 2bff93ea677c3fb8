# Conveyor: every target runs on Node 24 (tools/ensure-node installs it into
# .cache when the machine's node is older) against real servers on 127.0.0.1.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(shell tools/ensure-node)
ifeq ($(NODE_BIN),)
$(error tools/ensure-node could not provide Node 24)
endif
export PATH := $(NODE_BIN):$(PATH)
export NX_DAEMON := false
export NX_NO_CLOUD := true
export NX_TUI := false
export SWC_NODE_PROJECT := tsconfig.base.json

INFRA := deploy/local/infra
SERVICES := deploy/local/services
# Ports and URLs the infra wrote (only differs from the defaults when overridden).
WITH_INFRA_ENV := set -a; [ ! -f .run/infra/env ] || . .run/infra/env; set +a;

TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),user-1)
TOKEN_ROLE := $(if $(ROLE),$(ROLE),user)

.PHONY: docs docs-check registry registry-check check-structure contracts token audit build chart-check kind-up kind-down test-cluster format help setup infra-up infra-down infra-status services-up services-down demo down test lint typecheck test-chaos bench-outbox bench-resilience bench-export bench-orders bench-tracing trace latency scenario eval-search bench-search bench-notification bench-counters bench-points-lag bench-table-change bench-pool-sizing bench-data bench-cpu test-e2e test-pgbouncer

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-fund --no-audit

setup: node_modules/.package-lock.json ## install Node 24 (if needed) and the npm dependencies

infra-up: ## start PostgreSQL, Redis, RabbitMQ, Kafka and Jaeger on 127.0.0.1 (installs on first use)
	$(INFRA) up

infra-down: ## stop the servers infra-up started
	$(INFRA) down

infra-status: ## each server, its port, pid and health
	$(INFRA) status

services-up: setup ## start every service against the local servers
	$(SERVICES) up

services-down: ## stop the services
	$(SERVICES) down

demo: setup infra-up services-up ## bring everything up, run a short scenario (with a payments fault window), print its summary and where to look
	@echo
	@echo "A short scenario: browse, search, like, view, order, cancel, lessons, verifications; payments degraded for a while"
	@$(WITH_INFRA_ENV) SCENARIO_SECONDS=$${SCENARIO_SECONDS:-10} SCENARIO_SETTLE_SECONDS=$${SCENARIO_SETTLE_SECONDS:-30} node -r @swc-node/register test/load/scenario.ts
	@echo
	@echo "Conveyor is up:"
	@echo "  order             http://127.0.0.1:$${ORDER_PORT:-3001}/products   (health: /health/ready, metrics: /metrics)"
	@echo "  points            http://127.0.0.1:$${POINTS_PORT:-3002}/openapi.json"
	@echo "  notification      http://127.0.0.1:$${NOTIFICATION_PORT:-3003}/openapi.json"
	@echo "  search            http://127.0.0.1:$${SEARCH_PORT:-3004}/search?q=keyboard"
	@echo "  provider-sim      http://127.0.0.1:$${PROVIDER_SIM_PORT:-3100}/health/ready   (metrics: /metrics)"
	@echo "  Jaeger            http://127.0.0.1:$${JAEGER_QUERY_PORT:-16686}   (API: /api/services, /api/traces?service=order)"
	@echo "  RabbitMQ admin    http://127.0.0.1:$${RABBITMQ_MANAGEMENT_PORT:-15672}   (conveyor / conveyor)"
	@echo "  Kafka             127.0.0.1:$${KAFKA_PORT:-9092}"
	@echo "  PostgreSQL        127.0.0.1:$${POSTGRES_PORT:-5432}   (conveyor / conveyor)"
	@echo "  Redis             127.0.0.1:$${REDIS_PORT:-6379}"
	@echo
	@echo "An order's trace: make trace [ORDER_ID=…].   Latency report: make latency.   More load: make scenario."
	@echo "Status: make infra-status; $(SERVICES) status.   Stop everything: make down"

down: services-down infra-down ## stop the services and the servers

audit: setup ## npm audit --omit=dev: fails on a high or critical advisory not accepted in tools/audit-allowlist.json
	node tools/audit.mjs

token: setup ## print a bearer token for the local services: make token [USER=alice] [ROLE=user|admin], or a service's: make token CLIENT=lessons SCOPE=points:activities (keys made on first use)
	@node deploy/local/keys.mjs token $(if $(CLIENT),--client "$(CLIENT)" --scope "$(SCOPE)",--user "$(TOKEN_USER)" --role "$(TOKEN_ROLE)")

lint: setup ## Prettier (check only) and ESLint with module boundaries and project tags, every project
	npx prettier --check --log-level warn .
	npx nx run-many -t lint --outputStyle=static

format: setup ## rewrite every file Prettier checks
	npx prettier --write --log-level warn .

typecheck: setup ## tsc --noEmit, every project
	npx nx run-many -t typecheck --outputStyle=static

docs: setup ## regenerate the generated parts of docs/: each service's env table from its zod schema (tools/env-docs.mjs)
	node tools/env-docs.mjs --write

docs-check: setup ## part of make lint: every relative link and #anchor in README.md and docs/ resolves, each env table matches its schema
	node tools/check-doc-links.mjs
	node tools/env-docs.mjs --check

# make lint runs docs-check too (a second rule only adds the prerequisite).
lint: docs-check

registry: setup ## regenerate what services/registry.json generates (deploy/local's service and database lists, the chart's token-verifiers-off values; compose and chart entries of a new service)
	node tools/registry.mjs --write

registry-check: setup ## part of make lint: deploy/local, compose, the Helm values, the AsyncAPI producers/consumers, the routes and the ESLint scopes agree with services/registry.json
	node tools/registry.mjs --check

lint: registry-check

check-structure: setup ## part of make lint: the feature dialect of docs/architecture.md (file names, no SQL outside repositories, a module per feature folder, every service registered) over services/*
	node tools/check-structure.mjs

lint: check-structure

# Which service produces and consumes each message, read from services/ (test/contracts), against libs/contracts.
CONTRACTS := node -r @swc-node/register test/contracts/check.ts

contracts: setup ## producers and consumers of every message (read from the code) against libs/contracts, and the AsyncAPI document (WRITE=1 rewrites it); fails on an orphan or a stale or invalid document
	$(CONTRACTS) $(if $(WRITE),--write)

# Every service from deploy/local/services, one order's trace read back from Jaeger (test/e2e).
E2E := $(WITH_INFRA_ENV) npx jest -c test/e2e/jest.config.cjs

test-e2e: setup infra-up ## the end-to-end trace test alone
	$(E2E)

test: setup infra-up ## every test, against the real local servers
	rm -rf .run/test-results && mkdir -p .run/test-results
	status=0; \
	npx prettier --check --log-level warn . || status=1; \
	npx nx run-many -t lint typecheck --outputStyle=static || status=1; \
	$(MAKE) --no-print-directory docs-check registry-check check-structure || status=1; \
	$(WITH_INFRA_ENV) npx nx run-many -t test --outputStyle=static || status=1; \
	$(E2E) --json --outputFile=.run/test-results/e2e.json || status=1; \
	$(CONTRACTS) | tee .run/test-results/contracts.txt || status=1; \
	tools/check-boundaries.test.sh | tee .run/test-results/boundaries.txt || status=1; \
	tools/check-tags.test.sh | tee .run/test-results/tags.txt || status=1; \
	tools/docs-check.test.sh | tee .run/test-results/docs-check.txt || status=1; \
	tools/registry.test.sh | tee .run/test-results/registry.txt || status=1; \
	tools/check-structure.test.sh | tee .run/test-results/check-structure.txt || status=1; \
	$(INFRA).test.sh | tee .run/test-results/infra.txt || status=1; \
	tools/demo.test.sh | tee .run/test-results/demo.txt || status=1; \
	tools/deploy.test.sh | tee .run/test-results/deploy.txt || status=1; \
	$(WITH_INFRA_ENV) tools/generator.test.sh | tee .run/test-results/generator.txt || status=1; \
	tools/audit.test.sh | tee .run/test-results/audit-rules.txt || status=1; \
	node tools/audit.mjs --unreachable-is-unchecked | tee .run/test-results/audit.txt || status=1; \
	node tools/test-summary.mjs .run/test-results || status=1; \
	exit $$status

build: setup ## production build: JavaScript per service in dist/<service> (nx build)
	npx nx run-many -t build --outputStyle=static

chart-check: setup ## helm lint + unittest, kubeconform, conftest, install/upgrade on a local control plane (kwok)
	deploy/check/chart

kind-up: setup ## kind cluster, one image per service, helm install --wait, print the URLs (needs docker, kind, helm)
	deploy/kind/up

kind-down: ## delete the kind cluster
	deploy/kind/down

test-pgbouncer: setup infra-up ## what PgBouncer in transaction mode breaks (session SET, LISTEN, prepared statements, advisory locks); starts it (not part of make test)
	$(INFRA) up pgbouncer
	$(WITH_INFRA_ENV) npx jest -c libs/persistence/jest.config.cjs --testMatch '**/*.pgbouncer-spec.ts'

test-cluster: setup ## a real one-node cluster as local processes (root; not part of make test; see deploy/cluster/test)
	deploy/cluster/test

# Long runs, kept out of `make test`: run them yourself, they print their figures.
BENCH := $(WITH_INFRA_ENV) node -r @swc-node/register

test-chaos: setup infra-up ## long fault scenarios (broker outages, SIGKILLed consumers, invariant runs)
	$(WITH_INFRA_ENV) npx jest -c test/chaos/jest.config.cjs

bench-outbox: setup infra-up ## outbox relay in each mode (poll, notify, cdc) vs raw kafkajs: throughput, commit-to-ack and commit-to-consumer lag, burst drain
	$(BENCH) test/bench/outbox.bench.ts

bench-resilience: setup infra-up ## full resilient client vs raw undici, and breaker-open fail-fast latency
	$(BENCH) test/bench/resilience.bench.ts

bench-export: setup infra-up ## stream 1,000,000 orders as CSV vs a load-everything export: rows/s and RSS growth
	$(BENCH) test/bench/export.bench.ts

bench-orders: setup infra-up ## POST /orders throughput, and the cost of holding the payment call inside the transaction
	$(BENCH) test/bench/orders.bench.ts

bench-tracing: setup infra-up ## order throughput with tracing on (100% sampling, batch exporter) vs off, same run
	$(BENCH) test/bench/tracing.bench.ts

# Reading what the running stack did (make demo first).
trace: setup ## an order's trace as a waterfall from Jaeger (ORDER_ID=…, default the latest order; TRACE_DB=0 hides SQL/Redis)
	@$(WITH_INFRA_ENV) ORDER_ID='$(ORDER_ID)' node -r @swc-node/register test/observe/trace.ts

latency: setup ## HTML report + PNG of latency per operation from Jaeger spans (LATENCY_MINUTES=15) in .run/latency
	@$(WITH_INFRA_ENV) node -r @swc-node/register test/observe/latency.ts

scenario: setup ## the load mix (ramp, payments fault window) against the running stack, then its summary
	@$(WITH_INFRA_ENV) node -r @swc-node/register test/load/scenario.ts

eval-search: setup infra-up ## search relevance on the judged set: precision@10 and recall@10 (Korean, English, mixed)
	$(BENCH) services/search/test/relevance/eval.ts

bench-search: setup infra-up ## search over 1,000,000 products: FTS p50/p99 vs unindexed ILIKE, Kafka indexing events/s
	$(BENCH) services/search/test/bench/search.bench.ts

bench-notification: setup infra-up ## 200 SMS + 200 push through a 30 s SMS gateway outage: push p99 before/during, exactly once
	$(BENCH) services/notification/test/bench/sms-outage.bench.ts

bench-counters: setup infra-up ## one hot counter five ways (ops/s, p99, lost, retries, deadlocks), and transfers locked in account-id vs request order (40P01)
	$(BENCH) test/bench/counters.bench.ts

bench-points-lag: setup infra-up ## OrderPaid commit → points visible through outbox, Kafka and the points consumer (p50/p99)
	$(BENCH) test/bench/points-lag.bench.ts

bench-table-change: setup infra-up ## change 1,000,000 orders' shape while POST /orders writes: online copy-and-swap vs plain ALTER TABLE
	$(BENCH) test/bench/table-change.bench.ts

bench-pool-sizing: setup infra-up ## the order workload at PostgreSQL pool sizes 2..64: req/s and p99 per size, the knee, replicas that fit max_connections
	$(BENCH) test/bench/pool-sizing.bench.ts

bench-data: setup infra-up ## the data layer in one run: pool knee, replica reads and read-your-writes, online table change, archive rows/s
	$(BENCH) test/bench/data.bench.ts

bench-cpu: setup infra-up ## product image renditions on the event loop vs on a worker pool: loop and light-route p99, thumbnails/s
	$(BENCH) test/bench/cpu.bench.ts
