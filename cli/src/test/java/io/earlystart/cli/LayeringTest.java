package io.earlystart.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of the project (README, "Layout"), kept by a test so that a new feature cannot quietly
 * break it. Checked on the main classes of every module below the benchmarks (this module's test
 * classpath holds them all; nothing may depend on bench, which Maven already enforces):
 *
 * <pre>
 *   overlay  &lt;-  ordering, fetcher (siblings)  &lt;-  fusefs  &lt;-  cli (and bench)
 *   overlay:  io &lt;- format &lt;- base &lt;- create, synthesize
 *   fusefs:   image (no FUSE) &lt;- fuse (the jnr-fuse adapter) &lt;- fusefs (EarlyStart, the entry point)
 * </pre>
 *
 * and each third-party library where it is a module's job: FUSE (jnr-fuse, jnr-ffi, jffi) only in the
 * adapter (jnr-ffi also in overlay's DataRanges, for lseek), netty only in fetcher, picocli only in cli.
 */
class LayeringTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importMainClasses() {
    classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("io.earlystart");
    for (String module : new String[] {"overlay", "ordering", "fetcher", "fusefs", "cli"}) {
      assertTrue(classes.stream().anyMatch(c -> c.getPackageName().startsWith("io.earlystart." + module)),
          "no main class of " + module + " found on the classpath: the test would check nothing");
    }
  }

  @Test
  void modulesDependOneWay() {
    layeredArchitecture().consideringOnlyDependenciesInLayers()
        .layer("overlay").definedBy("io.earlystart.overlay..")
        .layer("ordering").definedBy("io.earlystart.ordering..")
        .layer("fetcher").definedBy("io.earlystart.fetcher..")
        .layer("fusefs").definedBy("io.earlystart.fusefs..")
        .layer("cli").definedBy("io.earlystart.cli..")
        .whereLayer("cli").mayNotBeAccessedByAnyLayer()
        .whereLayer("fusefs").mayOnlyBeAccessedByLayers("cli")
        .whereLayer("fetcher").mayOnlyBeAccessedByLayers("fusefs", "cli")
        .whereLayer("ordering").mayOnlyBeAccessedByLayers("fusefs", "cli")
        .whereLayer("overlay").mayOnlyBeAccessedByLayers("ordering", "fetcher", "fusefs", "cli")
        .check(classes);
  }

  @Test
  void overlayPartsDependOneWay() {
    layeredArchitecture().consideringOnlyDependenciesInLayers()
        .layer("io").definedBy("io.earlystart.overlay.io..")
        .layer("format").definedBy("io.earlystart.overlay.format..")
        .layer("base").definedBy("io.earlystart.overlay.base..")
        .layer("create").definedBy("io.earlystart.overlay.create..")
        .layer("synthesize").definedBy("io.earlystart.overlay.synthesize..")
        .whereLayer("create").mayNotBeAccessedByAnyLayer()
        .whereLayer("synthesize").mayNotBeAccessedByAnyLayer()
        .whereLayer("base").mayOnlyBeAccessedByLayers("create", "synthesize")
        .whereLayer("format").mayOnlyBeAccessedByLayers("base", "create", "synthesize")
        .whereLayer("io").mayOnlyBeAccessedByLayers("format", "base", "create", "synthesize")
        .check(classes);
  }

  @Test
  void fusefsCoreKnowsNoFuse() {
    noClasses().that().resideInAPackage("io.earlystart.fusefs.image..")
        .should().dependOnClassesThat().resideInAnyPackage("io.earlystart.fusefs.fuse..", "jnr..",
            "ru.serce.jnrfuse..", "com.kenai.jffi..")
        .because("the images and their state are plain Java a unit test drives without FUSE")
        .check(classes);
    noClasses().that().resideInAnyPackage("io.earlystart.fusefs.image..", "io.earlystart.fusefs.fuse..")
        .should().dependOnClassesThat().haveFullyQualifiedName("io.earlystart.fusefs.EarlyStart")
        .because("EarlyStart is the entry point on top of both")
        .check(classes);
    noClasses().that().resideInAPackage("io.earlystart.fusefs.fuse..")
        .should().dependOnClassesThat().resideInAnyPackage("io.earlystart.fetcher..", "io.earlystart.ordering..",
            "io.earlystart.overlay..")
        .because("the adapter only translates FUSE calls to the files it is given")
        .check(classes);
  }

  @Test
  void librariesStayWhereTheyAreTheModulesJob() {
    noClasses().that().resideOutsideOfPackage("io.earlystart.fusefs.fuse..")
        .should().dependOnClassesThat().resideInAnyPackage("ru.serce.jnrfuse..", "com.kenai.jffi..")
        .because("FUSE is the job of fusefs's adapter alone")
        .check(classes);
    noClasses().that().resideOutsideOfPackage("io.earlystart.fusefs.fuse..")
        .and().haveNameNotMatching("io\\.earlystart\\.overlay\\.io\\.DataRanges(\\$.*)?")
        .should().dependOnClassesThat().resideInAnyPackage("jnr..")
        .because("native calls are the adapter's, but for the one lseek that finds an image's holes")
        .check(classes);
    noClasses().that().resideOutsideOfPackage("io.earlystart.fetcher..")
        .should().dependOnClassesThat().resideInAPackage("io.netty..")
        .because("netty is the fetcher's job")
        .check(classes);
    noClasses().that().resideOutsideOfPackage("io.earlystart.cli..")
        .should().dependOnClassesThat().resideInAPackage("picocli..")
        .because("the command line is the cli's job")
        .check(classes);
  }

  @Test
  void noCyclesBetweenPackages() {
    slices().matching("io.earlystart.(**)").should().beFreeOfCycles().check(classes);
  }
}
