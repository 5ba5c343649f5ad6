/* A guest pointer for spicepy's live server-mouse test: reads PS/2 packets
 * from /dev/input/mice, accelerates them like X (factor 2 above 4 counts),
 * moves a DRM hardware cursor there (the SPICE cursor channel reports it) and
 * logs every button change with the position to stdout. No libc. */
typedef unsigned long u64; typedef unsigned int u32; typedef int s32;
typedef unsigned short u16;
static long sc(long n, long a, long b, long c, long d, long e, long f) {
    long r; register long r10 __asm__("r10") = d; register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10),
                     "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}
#define IOWR(nr, size) ((3UL << 30) | ((u64)(size) << 16) | ('d' << 8) | (nr))
struct card_res { u64 fbs, crtcs, conns, encs; u32 nfb, ncrtc, nconn, nenc, w0, w1, h0, h1; };
struct cursor { u32 flags, crtc; s32 x, y; u32 w, h, handle; };
struct dumb { u32 h, w, bpp, flags, handle, pitch; u64 size; };
struct map_dumb { u32 handle, pad; u64 offset; };
static void out(const char *s) { long n = 0; while (s[n]) n++; sc(1, 1, (long)s, n, 0, 0, 0); }
static void num(long v) {
    char b[24]; int i = 23; b[i] = 0; int neg = v < 0; if (neg) v = -v;
    do { b[--i] = '0' + v % 10; v /= 10; } while (v);
    if (neg) b[--i] = '-';
    out(b + i);
}
static long atoi_(const char *s) { long v = 0; while (*s >= '0' && *s <= '9') v = v * 10 + *s++ - '0'; return v; }
static int acc(int d) { return (d > 4 || d < -4) ? 2 * d : d; }
void _start_c(long *sp) {
    char **argv = (char **)(sp + 1);
    long W = atoi_(argv[1]), H = atoi_(argv[2]);
    long drm = sc(2, (long)"/dev/dri/card0", 2, 0, 0, 0, 0);
    if (drm < 0) { out("no drm\n"); sc(60, 1, 0, 0, 0, 0, 0); }
    u32 crtcs[8]; struct card_res res = {0};
    res.crtcs = (u64)crtcs; res.ncrtc = 0;
    sc(16, drm, IOWR(0xA0, sizeof res), (long)&res, 0, 0, 0);
    if (res.ncrtc > 8) res.ncrtc = 8;
    struct card_res res2 = {0}; res2.crtcs = (u64)crtcs; res2.ncrtc = res.ncrtc;
    if (sc(16, drm, IOWR(0xA0, sizeof res2), (long)&res2, 0, 0, 0) < 0 || !res.ncrtc) {
        out("no crtc\n"); sc(60, 1, 0, 0, 0, 0, 0);
    }
    u32 crtc = crtcs[0];
    struct dumb d = {64, 64, 32, 0, 0, 0, 0};
    if (sc(16, drm, IOWR(0xB2, sizeof d), (long)&d, 0, 0, 0) < 0) { out("no dumb\n"); sc(60, 1, 0, 0, 0, 0, 0); }
    struct map_dumb m = {d.handle, 0, 0};
    sc(16, drm, IOWR(0xB3, sizeof m), (long)&m, 0, 0, 0);
    u32 *px = (u32 *)sc(9, 0, d.size, 3, 1, drm, m.offset); /* PROT_RW, MAP_SHARED */
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            px[y * (d.pitch / 4) + x] = (x < 12 && y < 12 && x + y < 16) ? 0xFFFF2020 : 0;
    long x = W / 2, y = H / 2;
    struct cursor c = {1, crtc, 0, 0, 64, 64, d.handle};
    if (sc(16, drm, IOWR(0xA3, sizeof c), (long)&c, 0, 0, 0) < 0) { out("no cursor\n"); sc(60, 1, 0, 0, 0, 0, 0); }
    struct cursor mv = {2, crtc, (s32)x, (s32)y, 0, 0, 0};
    sc(16, drm, IOWR(0xA3, sizeof mv), (long)&mv, 0, 0, 0);
    out("ready "); num(x); out(" "); num(y); out("\n");
    long mice = sc(2, (long)"/dev/input/mice", 0, 0, 0, 0, 0);
    if (mice < 0) { out("no mice\n"); sc(60, 1, 0, 0, 0, 0, 0); }
    unsigned char p[3]; int held = 0;
    for (;;) {
        long got = 0;
        while (got < 3) { long n = sc(0, mice, (long)p + got, 3 - got, 0, 0, 0); if (n <= 0) sc(60, 2, 0, 0, 0, 0, 0); got += n; }
        int dx = p[1] - ((p[0] & 0x10) ? 256 : 0), dy = p[2] - ((p[0] & 0x20) ? 256 : 0);
        x += acc(dx); y -= acc(dy);
        if (x < 0) x = 0; if (y < 0) y = 0; if (x > W - 1) x = W - 1; if (y > H - 1) y = H - 1;
        mv.x = (s32)x; mv.y = (s32)y;
        sc(16, drm, IOWR(0xA3, sizeof mv), (long)&mv, 0, 0, 0);
        int buttons = p[0] & 7;
        if (buttons != held) {
            out("buttons "); num(buttons); out(" at "); num(x); out(" "); num(y); out("\n");
            held = buttons;
        }
    }
}
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call _start_c\n");
