/* A compiler wrapper for tests/bench/hetero.sh: put first in PATH under the
 * compiler's name, it runs $HETERO_REAL_CC with the same arguments. A compile
 * (-c or -S, no -E or -M) is timed and appended to $HETERO_STAMPS as one
 * line "START END STATUS OUTPUT" (CLOCK_REALTIME seconds, the -o argument),
 * so the benchmark knows when the client machine compiled locally. Anything
 * else (cpp, --version, links) is exec'd in place, untouched. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *real = getenv("HETERO_REAL_CC");
	const char *stamps = getenv("HETERO_STAMPS");
	const char *out = "-";
	int compile = 0;
	if (!real || !*real) {
		fprintf(stderr, "jobstamp: HETERO_REAL_CC is not set\n");
		return 127;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "-S"))
			compile = 1;
		else if (!strcmp(argv[i], "-E") || !strcmp(argv[i], "-M") || !strcmp(argv[i], "-MM"))
			compile = -1000;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[i + 1];
	}
	argv[0] = (char *)real;
	if (compile <= 0 || !stamps || !*stamps) {
		execv(real, argv);
		fprintf(stderr, "jobstamp: %s: %s\n", real, strerror(errno));
		return 127;
	}
	double t0 = now();
	pid_t p = fork();
	if (p < 0) {
		perror("jobstamp: fork");
		return 127;
	}
	if (p == 0) {
		execv(real, argv);
		fprintf(stderr, "jobstamp: %s: %s\n", real, strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	double t1 = now();
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	char line[4200];
	int n = snprintf(line, sizeof line, "%.6f %.6f %d %s\n", t0, t1, code, out);
	int fd = open(stamps, O_WRONLY | O_APPEND | O_CREAT, 0666);
	if (fd >= 0 && n > 0) {
		/* One write of one line: O_APPEND keeps parallel jobs' lines whole. */
		if (write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
			perror("jobstamp: write");
		close(fd);
	}
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	return code;
}
