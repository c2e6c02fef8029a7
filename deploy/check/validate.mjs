// Validates the ServiceMonitor documents of the YAML files named on the
// command line against prometheus-operator's schema (its CRD's, as
// @kubernetes-models/prometheus-operator ships it); other kinds are left to
// kubernetes-validate (scripts/check-deploy), which only warns about a kind
// it does not know: here such a kind (a typo, a wrong apiVersion) is an
// error. Exits 1 naming each problem.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

let problems = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const object = doc.toJS();
    if (object?.kind !== "ServiceMonitor") {
      const group = String(object?.apiVersion ?? "").includes("/") ? object.apiVersion : `v1`;
      try {
        await import(`kubernetes-models/${group}/${object?.kind}`);
      } catch {
        problems++;
        console.error(`${file}: unknown kind ${object?.kind} in ${object?.apiVersion}`);
      }
      continue;
    }
    checked++;
    try {
      if (object.apiVersion !== "monitoring.coreos.com/v1") {
        throw new Error(`apiVersion ${object.apiVersion} is not monitoring.coreos.com/v1`);
      }
      new ServiceMonitor(object).validate();
    } catch (e) {
      problems++;
      console.error(`${file}: ServiceMonitor ${object.metadata?.name}: ${e.message}`);
    }
  }
}
console.log(`validate.mjs: ${checked} ServiceMonitors checked, ${problems} invalid`);
process.exit(problems ? 1 : 0);
