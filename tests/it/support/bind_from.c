/* LD_PRELOAD shim for test sshds acting as bastions: every IPv4 loopback connect() is made from
 * $FLIPDECK_TEST_BIND_FROM, so the server behind it sees the bastion's own loopback address
 * (Linux would otherwise pick 127.0.0.1 for every loopback connection). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) {
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    }
    const char *from = getenv("FLIPDECK_TEST_BIND_FROM");
    if (from && addr && addr->sa_family == AF_INET &&
        (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, from, &src.sin_addr) == 1) {
            (void)bind(fd, (const struct sockaddr *)&src, sizeof src);
        }
    }
    return real(fd, addr, len);
}
