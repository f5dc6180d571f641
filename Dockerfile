# A static dirbridge image: pure Go (SQLite is modernc.org/sqlite, no cgo),
# no shell, runs as a non-root user. Build: docker build -t dirbridge .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dirbridge ./cmd/dirbridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dirbridge /usr/local/bin/dirbridge
USER nonroot:nonroot
EXPOSE 8080
VOLUME ["/var/lib/dirbridge"]
ENTRYPOINT ["/usr/local/bin/dirbridge"]
CMD ["serve", "--config", "/etc/dirbridge/dirbridge.yaml"]
