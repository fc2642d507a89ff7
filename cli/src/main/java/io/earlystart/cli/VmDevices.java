package io.earlystart.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a running QEMU has that {@code capture} cares about, found over QMP in the QOM tree: devices given
 * on the command line live under {@code /machine/peripheral} (with an id) or {@code /machine/peripheral-anon}.
 * Stateless.
 */
final class VmDevices {
  private VmDevices() {}

  /**
   * The guest agent's port: {@code chardev} is the id of the virtserialport's chardev, {@code filename} what
   * {@code query-chardev} says of it, {@code socket} the Unix socket QEMU listens on for it (null if it is
   * not one).
   */
  record Agent(String chardev, String filename, Path socket) {}

  /** The guest agent's port, or null when no virtserialport is named {@link GuestAgent#PORT_NAME}. */
  @SuppressWarnings("unchecked")
  static Agent guestAgent(Qmp qmp, Duration step) throws IOException {
    for (String dev : devices(qmp, step, "virtserialport")) {
      if (!GuestAgent.PORT_NAME.equals(get(qmp, dev, "name", step))) {
        continue;
      }
      Object chardev = get(qmp, dev, "chardev", step);
      if (!(chardev instanceof String id) || id.isEmpty()) {
        return new Agent("", "no chardev", null);
      }
      for (Object o : (List<Object>) qmp.execute("query-chardev", null, step)) {
        Map<String, Object> c = (Map<String, Object>) o;
        if (id.equals(c.get("label")) && c.get("filename") instanceof String f) {
          return new Agent(id, f, unixServerPath(f));
        }
      }
      return new Agent(id, "not in query-chardev", null);
    }
    return null;
  }

  /**
   * The path of a chardev's {@code filename} when it is a Unix socket QEMU listens on:
   * {@code unix:/run/qga.sock,server=on}, or the same after {@code disconnected:}; else null.
   */
  static Path unixServerPath(String filename) {
    String f = filename.startsWith("disconnected:") ? filename.substring("disconnected:".length()) : filename;
    if (!f.startsWith("unix:")) {
      return null;
    }
    String[] parts = f.substring("unix:".length()).split(",");
    boolean server = false;
    for (int i = 1; i < parts.length; i++) {
      server |= parts[i].equals("server=on") || parts[i].equals("server");
    }
    return server && !parts[0].isEmpty() ? Path.of(parts[0]) : null;
  }

  /**
   * The VM's virtio balloon: null when it has none, else whether its free-page reporting is on (device
   * state: vm.json must say so for the VM to resume).
   */
  static Boolean balloon(Qmp qmp, Duration step) throws IOException {
    Boolean found = null;
    for (String dev : devices(qmp, step, "virtio-balloon")) {
      found = Boolean.TRUE.equals(found) || Boolean.TRUE.equals(get(qmp, dev, "free-page-reporting", step));
    }
    return found;
  }

  /** QOM paths of the devices whose type starts with {@code typePrefix}. */
  @SuppressWarnings("unchecked")
  private static List<String> devices(Qmp qmp, Duration step, String typePrefix) throws IOException {
    List<String> found = new ArrayList<>();
    for (String parent : List.of("/machine/peripheral", "/machine/peripheral-anon")) {
      Object list = qmp.execute("qom-list", "{\"path\": " + Json.quote(parent) + "}", step);
      for (Object o : (List<Object>) list) {
        Map<String, Object> p = (Map<String, Object>) o;
        if (p.get("type") instanceof String t && t.startsWith("child<" + typePrefix)) {
          found.add(parent + "/" + p.get("name"));
        }
      }
    }
    return found;
  }

  private static Object get(Qmp qmp, String path, String property, Duration step) throws IOException {
    return qmp.execute("qom-get", "{\"path\": " + Json.quote(path) + ", \"property\": " + Json.quote(property) + "}",
        step);
  }
}
