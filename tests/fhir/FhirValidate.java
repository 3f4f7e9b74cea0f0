// HAPI FHIR's validator over the base R4 profiles, offline: each argument is a JSON resource;
// one line per message, "SEVERITY<TAB>location<TAB>message", then "validated N". Exit 0 even when
// a resource has errors: the Python test reads the lines and judges (tests/fhir/validator.py).
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

public class FhirValidate {
  public static void main(String[] args) throws Exception {
    FhirContext context = FhirContext.forR4();
    ValidationSupportChain chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(context),
            new SnapshotGeneratingValidationSupport(context),
            new InMemoryTerminologyServerValidationSupport(context),
            new CommonCodeSystemsTerminologyService(context));
    FhirInstanceValidator instance = new FhirInstanceValidator(chain);
    instance.setNoTerminologyChecks(false);
    FhirValidator validator = context.newValidator().registerValidatorModule(instance);
    int count = 0;
    for (String arg : args) {
      String text = Files.readString(Path.of(arg));
      ValidationResult result = validator.validateWithResult(text);
      for (SingleValidationMessage m : result.getMessages()) {
        System.out.println(
            arg + "\t" + m.getSeverity() + "\t" + m.getLocationString() + "\t"
                + m.getMessage().replace('\n', ' '));
      }
      count++;
    }
    System.out.println("validated " + count);
  }
}
