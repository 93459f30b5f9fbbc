# syntax=docker/dockerfile:1
#
# jenkins-failover-watchdog: a static Go binary on distroless, non-root.
#
# Both base images are pinned by digest (the tag beside each digest says what
# it is; the digest decides which image it is). To move to a newer base, look
# the digest up and review the change like any other commit:
#   docker buildx imagetools inspect golang:1.26.8-bookworm
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
# The Go version of the builder must be at least the one go.mod asks for: the
# official golang image sets GOTOOLCHAIN=local and will not download another.

# build compiles the static binary.
FROM golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107 AS build

WORKDIR /src

# Dependencies first, in their own layer, so a source edit does not download
# every module again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

ARG VERSION=dev
# The commit, for the revision label of jenkins_failover_build_info: .git is
# not in the build context, so Go cannot stamp it itself.
# REVISION empty means "unknown".
ARG REVISION=
# tools/deploycheck checks that this line keeps these flags
# (CGO_ENABLED=0, -trimpath, -X main.version) and builds the same binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION}" -o /out/jenkins-failover-watchdog .

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="jenkins-failover-watchdog" \
      org.opencontainers.image.description="Fails Jenkins agent groups over from a primary to standby agents, and back" \
      org.opencontainers.image.source="https://github.com/jenkins-failover-watchdog/jenkins-failover-watchdog" \
      org.opencontainers.image.url="https://github.com/jenkins-failover-watchdog/jenkins-failover-watchdog" \
      org.opencontainers.image.documentation="https://github.com/jenkins-failover-watchdog/jenkins-failover-watchdog#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build /out/jenkins-failover-watchdog /jenkins-failover-watchdog

# distroless "nonroot" is uid/gid 65532.
USER nonroot:nonroot

ENV WATCHDOG_LISTEN_ADDR=":9723"
EXPOSE 9723

# No shell or curl in distroless: the binary checks its own /livez.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/jenkins-failover-watchdog", "healthcheck"]

ENTRYPOINT ["/jenkins-failover-watchdog"]
