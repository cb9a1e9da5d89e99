# syntax=docker/dockerfile:1
# The identity provider as a static binary on distroless (no shell, no
# package manager), running as the nonroot user (65532).
#   docker build -t eu-health-idp/idp .
#   docker run --rm eu-health-idp/idp --help

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (the SQLite driver is too), so CGO off gives a static binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/idp ./cmd/idp

# distroless has no wget or curl for a container health check; busybox's
# static build supplies one binary for it (docker-compose.yml uses it).
FROM busybox:1.37-musl AS busybox

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/idp /usr/local/bin/idp
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
# SQLite (sqlite:data/idp.db, the default) lands in the nonroot user's home;
# production uses PostgreSQL through IDP_DATABASE_DSN.
WORKDIR /home/nonroot
USER nonroot:nonroot
ENV IDP_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/idp"]
CMD ["serve"]
