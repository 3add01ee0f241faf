/* A stand-in compiler driver for the client benchmark: "-E" prints a
 * canned preprocessed file ($BENCH_I), so the client's own cost is not
 * buried under cpp's. Anything else is an error: jobs must go remote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-E") == 0) {
			FILE *f = fopen(getenv("BENCH_I"), "rb");
			char buf[65536];
			size_t k;
			if (!f)
				return 1;
			while ((k = fread(buf, 1, sizeof buf, f)) > 0)
				fwrite(buf, 1, k, stdout);
			return 0;
		}
	}
	fprintf(stderr, "fakecpp: only -E is supported here\n");
	return 1;
}
