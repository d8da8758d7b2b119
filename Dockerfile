# syntax=docker/dockerfile:1
# One image for every production command: api, worker, migrate and sim (see docker-compose.yml).

FROM golang:1.26 AS build
# The golang image keeps modules in /go/pkg/mod; pin both caches to the paths the cache mounts use.
ENV GOMODCACHE=/root/go/pkg/mod GOCACHE=/root/.cache/go-build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /partnerflow ./cmd/partnerflow
# A named volume mounted at /data copies this directory's owner, so the nonroot user can write it.
RUN mkdir -p /rootfs/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build --chown=65532:65532 /rootfs/data /data
COPY --from=build /partnerflow /partnerflow
USER nonroot:nonroot
ENTRYPOINT ["/partnerflow"]
