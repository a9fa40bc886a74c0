/*
 * LD_PRELOAD shim for latency measurements: every TCP socket the process
 * connects gets TCP_NODELAY, and a later request to turn it off is turned
 * into "on". Deno's client WebSocket sets TCP_NODELAY to 0 right after connect
 * (denoland/deno#35581, seen with strace), so a client's small messages (24-byte
 * acks) can wait for the peer's delayed ACK; a real device's client may not.
 * The load tool's default client (`--client-websocket deno-nodelay`) builds it
 * with `cc` at run time (nodelay_shim.ts) and preloads it in its client worker
 * processes only; every server-side process it spawns gets an empty LD_PRELOAD.
 * By hand, for a client of your own:
 *
 *   cc -shared -fPIC -O2 -o /tmp/nodelay.so bench/load/nodelay_preload.c -ldl
 *   LD_PRELOAD=/tmp/nodelay.so deno run ... (the client only, never the server)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
  if (!real_setsockopt) real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
  static const int on = 1;
  if (level == IPPROTO_TCP && name == TCP_NODELAY) return real_setsockopt(fd, level, name, &on, sizeof on);
  return real_setsockopt(fd, level, name, value, len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real_connect)(int, const struct sockaddr *, socklen_t);
  if (!real_connect) real_connect = dlsym(RTLD_NEXT, "connect");
  if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
    int type = 0;
    socklen_t size = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_STREAM) {
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* ours, above */
    }
  }
  return real_connect(fd, addr, len);
}
