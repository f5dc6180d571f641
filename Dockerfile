# A static dirbridge image: pure Go (SQLite is modernc.org/sqlite, no cgo),
# no shell, runs as a non-root user. Build: docker build -t dirbridge .
# Notes: docs/deployment.md (Docker).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dirbridge ./cmd/dirbridge
# The state directory (SQLite store), created here because the final image
# has no shell to run mkdir.
RUN mkdir -p /out/state && chmod 0700 /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dirbridge /usr/local/bin/dirbridge
# Owned by the non-root user (65532), so a fresh volume mounted here
# inherits a directory the daemon can write.
COPY --from=build --chown=65532:65532 /out/state /var/lib/dirbridge
USER nonroot:nonroot
WORKDIR /var/lib/dirbridge
EXPOSE 8080
VOLUME ["/var/lib/dirbridge"]
# No shell or curl in the image: the binary checks /readyz itself, at the
# port (server.internal_listen when set) and with the TLS the config gives.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/dirbridge", "health", "--config", "/etc/dirbridge/dirbridge.yaml"]
ENTRYPOINT ["/usr/local/bin/dirbridge"]
CMD ["serve", "--config", "/etc/dirbridge/dirbridge.yaml"]
