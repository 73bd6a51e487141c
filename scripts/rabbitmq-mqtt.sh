#!/usr/bin/env bash
# RabbitMQ as SMX's external MQTT broker (README "External broker: RabbitMQ"), for
# test/e2e/rabbitmq-mqtt.test.ts and CI: enables the MQTT plugin and the HTTP auth backend, writes
# their settings to /etc/rabbitmq/conf.d/, starts RabbitMQ when it is down (restarts it when the
# settings changed: RabbitMQ reads them at boot) and waits until the MQTT listener answers.
# Idempotent: a second run changes nothing and takes about a second.
#
#   SMX_RABBITMQ_MQTT_PORT  MQTT listener (default 1885; Mosquitto holds 1883 on CI machines)
#   SMX_RABBITMQ_AUTH_URL   where the auth_http paths point: SMX's base URL plus
#                           /mqtt-auth/$SMX_MQTT_AUTH_HTTP_TOKEN (the test re-points them at its
#                           own SMX at run time with `rabbitmqctl eval`)
set -euo pipefail

port="${SMX_RABBITMQ_MQTT_PORT:-1885}"
auth_url="${SMX_RABBITMQ_AUTH_URL:-http://127.0.0.1:8080/mqtt-auth/set-SMX_RABBITMQ_AUTH_URL}"
conf_dir=/etc/rabbitmq/conf.d
conf="$conf_dir/60-smx-mqtt.conf"
plugins=(rabbitmq_mqtt rabbitmq_auth_backend_http)

listening() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$port" >/dev/null 2>&1; }
running() { rabbitmqctl -q status >/dev/null 2>&1; }

wanted="# Written by SMX's scripts/rabbitmq-mqtt.sh.
# RabbitMQ's own users (guest) first, then SMX answers for its phones and its internal client.
auth_backends.1 = internal
auth_backends.2 = http
auth_http.http_method = post
auth_http.user_path = $auth_url/user
auth_http.vhost_path = $auth_url/vhost
auth_http.resource_path = $auth_url/resource
auth_http.topic_path = $auth_url/topic
mqtt.listeners.tcp.default = 127.0.0.1:$port
mqtt.allow_anonymous = false
mqtt.vhost = /
mqtt.exchange = amq.topic
mqtt.subscription_ttl = 259200000"

changed=0
mkdir -p "$conf_dir"
if [ "$(cat "$conf" 2>/dev/null)" != "$wanted" ]; then
  printf '%s\n' "$wanted" >"$conf"
  changed=1
fi
enabled_file=/etc/rabbitmq/enabled_plugins
for plugin in "${plugins[@]}"; do
  if ! grep -q "\b$plugin\b" "$enabled_file" 2>/dev/null; then
    # Offline: the file only. Enabling on the running node would start the MQTT listener with
    # the settings it booted with (port 1883, taken by Mosquitto).
    rabbitmq-plugins -q enable --offline "${plugins[@]}" >/dev/null
    changed=1
    break
  fi
done

if [ "$changed" = 0 ] && listening; then
  echo "rabbitmq-mqtt: MQTT on 127.0.0.1:$port, nothing to change"
  exit 0
fi
if running; then
  echo "rabbitmq-mqtt: restarting RabbitMQ (settings changed or MQTT not listening)"
  rabbitmqctl -q shutdown >/dev/null
fi
echo "rabbitmq-mqtt: starting RabbitMQ"
rabbitmq-server -detached
for _ in $(seq 1 90); do
  if listening; then
    echo "rabbitmq-mqtt: MQTT on 127.0.0.1:$port"
    exit 0
  fi
  sleep 1
done
echo "rabbitmq-mqtt: RabbitMQ's MQTT listener did not answer on 127.0.0.1:$port within 90 s" >&2
exit 1
