/* A tiny crackme for the crackme_solving tests: `crackme NAME SERIAL` accepts when SERIAL
   (hexadecimal) is the serial of NAME. The algorithm lives only in this binary's code;
   the tests compile it with the system compiler (cc) at test time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned int serial_of(const char *name)
{
    unsigned int h = 0x1337u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h * 31u + *p) ^ 0xA5u;
    return h & 0xFFFFFFu;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: crackme NAME SERIAL\n", stderr);
        return 2;
    }
    if (strlen(argv[1]) < 3) {
        puts("Name too short");
        return 1;
    }
    char *end = NULL;
    unsigned long given = strtoul(argv[2], &end, 16);
    if (argv[2][0] == '\0' || *end != '\0' || given != serial_of(argv[1])) {
        puts("Wrong serial");
        return 1;
    }
    puts("Access granted");
    return 0;
}
