"""Starting `smart-connect-sim run` from the external checks: the process dies with the script
(even on SIGKILL), and the banner it prints says where everything listens."""
import signal, subprocess, threading


def die_with_parent():
    """Linux: the child gets SIGTERM if the script dies in any way."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start(args, log_path, until=("Ctrl-C stops",), wait_s=30):
    """Start `args`, stderr to `log_path`; return the process and its banner (the stdout lines
    up to one containing any of `until`, or what came within `wait_s`)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True,
                            preexec_fn=die_with_parent)
    lines, ready = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if any(u in line for u in until):
                ready.set()
        ready.set()
    threading.Thread(target=read, daemon=True).start()
    ready.wait(wait_s)
    return proc, "".join(lines)
