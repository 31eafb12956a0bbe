# ferry's container image: ferry in the foreground as a non-root user, configured like
# the official nginx image (/etc/ferry/ferry.conf including /etc/ferry/conf.d/*.conf,
# templates rendered from the environment at start, STOPSIGNAL SIGQUIT).
#
#   docker build -t ferry .
#   docker run --rm -p 8080:8080 ferry
#   docker run --rm -v "$PWD/site.conf:/etc/ferry/conf.d/default.conf:ro" -p 8080:8080 ferry
#   docker run --rm ferry ferry -t
#
# The files the image installs live in examples/container/.

# ---- build: ferry from source, with Debian 12's packages ----
FROM debian:bookworm AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        g++ libfmt-dev libpcre2-dev libssl-dev meson ninja-build node-llhttp pkg-config \
 && rm -rf /var/lib/apt/lists/*

# The sources meson reads (a new top-level source folder must be added here).
WORKDIR /src
COPY meson.build meson_options.txt ./
COPY app app
COPY conf conf
COPY core core
COPY http http
COPY tunnel tunnel
COPY examples/meson.build examples/
COPY examples/demo_upstream examples/demo_upstream
COPY tests/meson.build tests/
COPY tests/bench tests/bench

# The project's tested build type (-O2), without unit tests; the installed binary is
# stripped of its debug information.
RUN meson setup /build -Dtests=false -Ddefault_prefix=/etc/ferry/ \
        -Ddefault_conf=/etc/ferry/ferry.conf \
 && ninja -C /build ferry \
 && install -D -s -m 0755 /build/ferry /out/ferry

# ---- runtime: the binary and the libraries it links ----
FROM debian:bookworm-slim

LABEL org.opencontainers.image.title="ferry" \
      org.opencontainers.image.description="HTTP/1.1 and WebSocket reverse proxy (nginx configs)" \
      org.opencontainers.image.licenses="BSD-2-Clause"

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libfmt9 libpcre2-8-0 libssl3 libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 101 ferry \
 && useradd --system --uid 101 --gid ferry --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ferry \
 && mkdir -p /etc/ferry/conf.d /etc/ferry/templates /etc/ferry/logs \
 && ln -s /dev/stdout /etc/ferry/logs/access.log \
 && ln -s /dev/stderr /etc/ferry/logs/error.log \
 && chown ferry:root /etc/ferry/conf.d /etc/ferry/logs \
 && chmod 0775 /etc/ferry/conf.d /etc/ferry/logs

# conf.d (default.conf included) and logs/ are writable by the ferry user, and by group
# root for platforms that run images under an arbitrary uid in group 0: templates are
# rendered into conf.d at start (a default.conf.template over default.conf), and a
# configuration without a pid directive writes logs/ferry.pid (nginx's default, relative
# to the prefix /etc/ferry/). logs/access.log and logs/error.log, nginx's default log
# paths, lead to the container's stdout and stderr.
COPY --from=build /out/ferry /usr/local/bin/ferry
COPY examples/container/ferry.conf /etc/ferry/ferry.conf
COPY examples/container/mime.types /etc/ferry/mime.types
COPY --chown=ferry:root examples/container/conf.d/ /etc/ferry/conf.d/
COPY examples/container/entrypoint.sh /usr/local/bin/ferry-entrypoint
RUN chmod g+w /etc/ferry/conf.d/*.conf

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 101:101

RUN ["ferry-entrypoint", "ferry", "-t"]

EXPOSE 8080 8443
STOPSIGNAL SIGQUIT
ENTRYPOINT ["ferry-entrypoint"]
CMD ["ferry"]
