# A node image from scratch: the static binaries and the etc/ files only.
# Build it with `make docker` (it builds bin/ first); no base image is pulled.
FROM scratch
COPY bin/emqx bin/emqx_ctl /opt/emqx/bin/
COPY etc/emqx.conf etc/cluster.conf etc/acl.conf /opt/emqx/etc/
COPY etc/plugins/ /opt/emqx/etc/plugins/
ENV EMQX_HOME=/opt/emqx
# MQTT, MQTT/TLS, WebSocket, secure WebSocket; gossip (TCP+UDP) and cluster RPC (manual port).
EXPOSE 1883 8883 8083 8084 8081 18083 4370 4370/udp 5369
ENTRYPOINT ["/opt/emqx/bin/emqx"]
CMD ["foreground"]
