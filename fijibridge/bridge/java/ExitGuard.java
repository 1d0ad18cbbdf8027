// fijibridge: keep a macro from ending the Python process (System.exit, Runtime.exit/halt).
//
// ImageJ runs inside the Python process (JPype), so a macro's
// call("java.lang.System.exit", "0") would end Python at once, with nothing on stderr.
// While fijibridge runs a macro (enter() .. leave()), checkExit refuses every exit and
// records it; the bridge then raises MacroError. Every other permission is granted
// (this is not a sandbox: macros are trusted code). Where a SecurityManager cannot be
// installed (Java 24+, or another one is already set), a shutdown hook at least says on
// stderr why the process ends.
//
// Build (the .class is committed so that a JRE without javac works):
//   javac --release 11 -d fijibridge/bridge/java fijibridge/bridge/java/ExitGuard.java
package fijibridge;

import java.security.Permission;
import java.util.concurrent.atomic.AtomicInteger;

public final class ExitGuard extends SecurityManager {
    private static final AtomicInteger ACTIVE = new AtomicInteger();
    private static volatile String blocked;
    private static volatile boolean installed;
    private static volatile boolean hooked;

    private ExitGuard() {
    }

    /** Install the guard; returns "" on success, else why it could not be installed. */
    public static synchronized String install() {
        if (!hooked) {
            Runtime.getRuntime().addShutdownHook(new Thread(ExitGuard::notice, "fijibridge-exit-notice"));
            hooked = true;
        }
        if (installed) {
            return "";
        }
        try {
            if (System.getSecurityManager() != null) {
                return "another SecurityManager is installed: " + System.getSecurityManager().getClass().getName();
            }
            System.setSecurityManager(new ExitGuard());
            installed = true;
            return "";
        } catch (UnsupportedOperationException | SecurityException e) {
            return String.valueOf(e);
        }
    }

    public static boolean isInstalled() {
        return installed;
    }

    /** A macro starts: exits are refused until leave(). */
    public static void enter() {
        blocked = null;
        ACTIVE.incrementAndGet();
    }

    /** The macro ended: returns the exit it tried (or null). */
    public static String leave() {
        ACTIVE.decrementAndGet();
        String b = blocked;
        blocked = null;
        return b;
    }

    private static void notice() {
        if (ACTIVE.get() > 0) {
            System.err.println("fijibridge: Java was ended (System.exit) by the macro that was running;"
                    + " the Python process ends with it. Remove System.exit/exit calls and run(\"Quit\") from the macro.");
            System.err.flush();
        }
    }

    @Override
    public void checkPermission(Permission perm) {
    }

    @Override
    public void checkPermission(Permission perm, Object context) {
    }

    @Override
    public void checkExit(int status) {
        if (ACTIVE.get() > 0) {
            String what = "System.exit(" + status + ") in thread " + Thread.currentThread().getName();
            blocked = what;
            throw new SecurityException("fijibridge refused " + what + ": a macro cannot end the Python process");
        }
    }
}
