# halfsec relay image: Debian 12 (bookworm) + Node 20, the native addon built in the image, run as
# an unprivileged user. Build: docker build -t halfsec .   Run (host networking: the media ports
# are UDP/TCP 40000-40099 and every ICE candidate must carry a reachable address):
#   docker run --network host -e HALFSEC_ANNOUNCE_IP=203.0.113.7 halfsec
# See docs/operations.md for ports, sizing and kernel settings.
ARG NODE_IMAGE=node:20-bookworm

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Only what the build reads: test/ and bench/ never enter the image.
COPY package.json package-lock.json binding.gyp tsconfig.json ./
COPY native/ native/
COPY ts/ ts/
COPY web/ web/
COPY scripts/build-release.sh scripts/build-srt.sh scripts/
# libsrt's headers: halfsec-srt (the SRT listener) is built only where they are.
RUN apt-get update && apt-get install -y --no-install-recommends libsrt-openssl-dev && rm -rf /var/lib/apt/lists/*
RUN bash scripts/build-release.sh /src /opt/halfsec

# The same Node build as the build stage: the addon links against that Node's own OpenSSL.
FROM ${NODE_IMAGE}-slim
ENV NODE_ENV=production
# Ingest (docs/ingest.md): FFmpeg runs every RTMP, SRT and RTSP ingest child; halfsec-srt links
# libsrt's OpenSSL flavour (FFmpeg's own libavformat pulls the GnuTLS one; both coexist).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg libsrt1.5-openssl && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/halfsec /opt/halfsec
WORKDIR /opt/halfsec
# The official image's unprivileged user (uid 1000); the files stay root's, read-only to it.
USER node
# HTTP (WHIP, WHEP, /ws, /api, /metrics, /dashboard, /healthz); media on UDP and ICE-TCP.
# Ingest ports are off until configured (--rtmp-port 1935, --srt-port 9000/udp).
EXPOSE 8080/tcp 40000-40099/udp 40000/tcp
# SIGTERM drains: new viewers get 503, existing ones get up to --drain-timeout-ms (30 s) to leave.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HALFSEC_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/opt/halfsec/dist/cli.js", "serve"]
