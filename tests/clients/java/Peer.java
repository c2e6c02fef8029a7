// A JVM peer that does on the wire what the Web Service Connector (WSC,
// force-wsc: PartnerConnection, BulkConnection, SessionRenewer) and Data
// Loader do, with the plain JDK only: HttpURLConnection (as WSC's
// JdkHttpTransport), DOM for XML, the JVM's own TLS (the truststore comes
// from -Djavax.net.ssl.trustStore, as Data Loader's HTTP client takes it).
// The real jars live on Maven Central, which the test machines do not reach.
//
// Run as a single-file program: `java Peer.java SCENARIO` with SF_LOGIN_URL
// (https://host:port), SF_USERNAME, SF_PASSWORD, and optionally SF_VERSION,
// SF_TOKEN_WAIT_MS and SF_TRANSCRIPT (a file where every answer received,
// status, headers and decoded body, is appended). It prints one JSON object.
//
// Scenarios: `wsc` (login, faults, getUserInfo, query and queryMore, create,
// update, delete, describeSObject, a session id given directly), `enterprise`
// (the same through WSC's EnterpriseConnection: the enterprise endpoint,
// typed sObjects), `dataloader`
// (Data Loader's login, describe and Bulk 1.0 load and extract), `renew` (an
// expired session: INVALID_SESSION_ID, the SessionRenewer's login and the
// retry; Bulk's InvalidSessionId) and `login` (login only).

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

public class Peer {
    static final String ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
    static final String PARTNER_NS = "urn:partner.soap.sforce.com";
    static final String SOBJECT_NS = "urn:sobject.partner.soap.sforce.com";
    static final String ENTERPRISE_NS = "urn:enterprise.soap.sforce.com";
    static final String ENTERPRISE_SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com";
    static final String ASYNC_NS = "http://www.force.com/2009/06/asyncapi/dataload";
    /** WSC's default version: that of the WSDL its code was generated from. */
    static final String WSC_VERSION = "62.0";
    /** Data Loader 67 logs in at 64.0 (SOAP login() ends at 65.0) and works at 67.0. */
    static final String DL_LOGIN_VERSION = "64.0";
    static final String DL_VERSION = "67.0";
    static final String SOQL = "SELECT Id, Name FROM Account ORDER BY Name";

    public static void main(String[] args) throws Exception {
        String scenario = args.length > 0 ? args[0] : "";
        Map<String, Object> out = switch (scenario) {
            case "wsc" -> wsc();
            case "enterprise" -> enterprise();
            case "dataloader" -> dataLoader();
            case "renew" -> renew();
            case "login" -> {
                Soap.Login login = Soap.wscLogin(env("SF_USERNAME"), env("SF_PASSWORD"));
                yield Json.obj("serverUrl", login.serverUrl());
            }
            default -> throw new IllegalArgumentException(
                "usage: java Peer.java wsc|enterprise|dataloader|renew|login (got '" + scenario + "')");
        };
        System.out.println(Json.write(out));
    }

    static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException("set " + name);
        }
        return value;
    }

    static String wscVersion() {
        String v = System.getenv("SF_VERSION");
        return v == null || v.isEmpty() ? WSC_VERSION : v;
    }

    /** WSC's PartnerConnection, configured with the gateway as its auth endpoint. */
    static Map<String, Object> wsc() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        String user = env("SF_USERNAME");
        String key = env("SF_PASSWORD");

        // A wrong password: the fault as WSC reads it into a LoginFault.
        try {
            Soap.wscLogin(user, "not-" + key);
            out.put("wrongPassword", "accepted");
        } catch (ApiFault fault) {
            out.put("wrongPassword", fault.json());
        }

        Soap.Login login = Soap.wscLogin(user, key);
        out.put("login", login.json());
        Soap conn = new Soap(login.serverUrl(), login.sessionId(), Soap.Style.WSC);

        Element info = conn.result("getUserInfo", "");
        out.put("userInfo", Json.obj(
            "userName", Xml.text(info, "userName"),
            "organizationId", Xml.text(info, "organizationId"),
            "sessionSecondsValid", Xml.text(info, "sessionSecondsValid")));

        out.put("query", queryAll(conn, SOQL));

        String id = crud(conn, out, "WSC Test Account", "<m:sObjects><sobj:type>Account</sobj:type>");
        out.put("deletedAgain", saveResult(conn.call("delete", "<m:ids>" + id + "</m:ids>")));
        out.put("afterDelete", Xml.text(
            conn.result("query", "<m:queryString>SELECT Id FROM Account WHERE Id = '" + id
                + "'</m:queryString>"), "size"));

        out.put("describe", describe(conn.call("describeSObject", "<m:sObjectType>Account</m:sObjectType>")));
        try {
            conn.call("describeSObject", "<m:sObjectType>NoSuchObject__c</m:sObjectType>");
            out.put("describeUnknown", "accepted");
        } catch (ApiFault fault) {
            out.put("describeUnknown", fault.json());
        }

        // A session id WSC did not get from login (setSessionId and
        // setServiceEndpoint, no login): one that is not a session.
        Soap bogus = new Soap(login.serverUrl(), "00DGATEWAYTOKEN!" + "0".repeat(64), Soap.Style.WSC);
        try {
            bogus.call("getUserInfo", "");
            out.put("unknownSession", "accepted");
        } catch (ApiFault fault) {
            out.put("unknownSession", fault.json());
        }
        // The API key itself as the session id (a client configured with a token).
        Soap direct = new Soap(login.serverUrl(), key, Soap.Style.WSC);
        out.put("keyAsSession", Xml.text(direct.result("getUserInfo", ""), "userName"));
        return out;
    }

    /**
     * WSC's EnterpriseConnection (code generated from the org's enterprise
     * WSDL): login at /services/Soap/c/{v}, the enterprise namespaces, and
     * sObjects typed by xsi:type with their fields as elements.
     */
    static Map<String, Object> enterprise() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        String user = env("SF_USERNAME");
        String key = env("SF_PASSWORD");
        String auth = env("SF_LOGIN_URL") + "/services/Soap/c/" + wscVersion();
        try {
            Soap.enterprise(auth, null).login(user, "not-" + key);
            out.put("wrongPassword", "accepted");
        } catch (ApiFault fault) {
            out.put("wrongPassword", fault.json());
        }
        Soap.Login login = Soap.enterprise(auth, null).login(user, key);
        out.put("login", login.json());
        Soap conn = Soap.enterprise(login.serverUrl(), login.sessionId());
        out.put("userName", Xml.text(conn.result("getUserInfo", ""), "userName"));

        out.put("query", queryAll(conn, SOQL));
        Element first = conn.result("query", "<m:queryString>" + Xml.escape(SOQL) + "</m:queryString>");
        out.put("recordType", Xml.children(first, "records").get(0).getAttributeNS(XSI_NS, "type"));

        crud(conn, out, "Enterprise Account", "<m:sObjects xsi:type=\"sobj:Account\">");
        out.put("describe", describe(conn.call("describeSObject", "<m:sObjectType>Account</m:sObjectType>")));

        Soap bogus = Soap.enterprise(login.serverUrl(), "00DGATEWAYTOKEN!" + "0".repeat(64));
        try {
            bogus.call("getUserInfo", "");
            out.put("unknownSession", "accepted");
        } catch (ApiFault fault) {
            out.put("unknownSession", fault.json());
        }
        return out;
    }

    /** query, then queryMore on each locator until done, as a WSC caller pages. */
    static Map<String, Object> queryAll(Soap conn, String soql) throws Exception {
        Element result = conn.result("query", "<m:queryString>" + Xml.escape(soql) + "</m:queryString>");
        List<Object> names = new ArrayList<>();
        List<Object> pages = new ArrayList<>();
        String total = Xml.text(result, "size");
        while (true) {
            List<Element> records = Xml.children(result, "records");
            List<Object> page = new ArrayList<>();
            for (Element record : records) {
                page.add(Xml.text(record, "Name"));
            }
            names.addAll(page);
            pages.add(page);
            if ("true".equals(Xml.text(result, "done"))) {
                break;
            }
            String locator = Xml.text(result, "queryLocator");
            result = conn.result("queryMore", "<m:queryLocator>" + locator + "</m:queryLocator>");
        }
        return Json.obj("size", total, "pages", pages, "names", names);
    }

    /**
     * create, read, update, read again and delete one Account named `name`
     * (Industry Testing, then Updated) into `out`; `open` starts an sObject
     * (partner: a `type` child; enterprise: `xsi:type`). Returns its id.
     */
    static String crud(Soap conn, Map<String, Object> out, String name, String open) throws Exception {
        Element created = conn.call("create", open + "<sobj:Name>" + Xml.escape(name) + "</sobj:Name>"
            + "<sobj:Industry>Testing</sobj:Industry></m:sObjects>");
        String id = Xml.text(Xml.children(created, "result").get(0), "id");
        out.put("created", saveResult(created));
        out.put("read", readAccount(conn, id));
        out.put("updated", saveResult(conn.call("update", open + "<sobj:Id>" + id + "</sobj:Id>"
            + "<sobj:Industry>Updated</sobj:Industry></m:sObjects>")));
        out.put("reread", readAccount(conn, id));
        out.put("deleted", saveResult(conn.call("delete", "<m:ids>" + id + "</m:ids>")));
        return id;
    }

    static Map<String, Object> readAccount(Soap conn, String id) throws Exception {
        Element result = conn.result("query", "<m:queryString>SELECT Id, Name, Industry FROM Account WHERE Id = '"
            + id + "'</m:queryString>");
        Element record = Xml.children(result, "records").get(0);
        return Json.obj("Name", Xml.text(record, "Name"), "Industry", Xml.text(record, "Industry"));
    }

    static Map<String, Object> saveResult(Element response) {
        Element result = Xml.children(response, "result").get(0);
        Map<String, Object> out = Json.obj(
            "id", Xml.text(result, "id"), "success", Boolean.valueOf(Xml.text(result, "success")));
        List<Element> errors = Xml.children(result, "errors");
        if (!errors.isEmpty()) {
            out.put("statusCode", Xml.text(errors.get(0), "statusCode"));
        }
        return out;
    }

    static Map<String, Object> describe(Element response) {
        Element result = Xml.children(response, "result").get(0);
        List<Object> fields = new ArrayList<>();
        for (Element field : Xml.children(result, "fields")) {
            fields.add(Xml.text(field, "name"));
        }
        return Json.obj(
            "name", Xml.text(result, "name"),
            "keyPrefix", Xml.text(result, "keyPrefix"),
            "createable", Xml.text(result, "createable"),
            "fields", fields);
    }

    /** Data Loader: its login, describe, and a Bulk 1.0 load and extract. */
    static Map<String, Object> dataLoader() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        Soap.Login login = Soap.dataLoaderLogin(env("SF_USERNAME"), env("SF_PASSWORD"));
        out.put("login", login.json());
        // sfdc.resetUrlOnLogin: the server is serverUrl's scheme://host:port.
        URI server = URI.create(login.serverUrl());
        String base = server.getScheme() + "://" + server.getAuthority();
        out.put("server", base);
        Soap conn = new Soap(base + "/services/Soap/u/" + DL_VERSION + "/", login.sessionId(), Soap.Style.DATA_LOADER);
        // The object list it offers, then the chosen object's fields.
        List<Object> objects = new ArrayList<>();
        Element global = conn.result("describeGlobal", "");
        for (Element sobject : Xml.children(global, "sobjects")) {
            objects.add(Xml.text(sobject, "name"));
        }
        out.put("objects", objects);
        Element described = conn.call("describeSObjects", "<m:sObjectType>Account</m:sObjectType>");
        out.put("describe", describe(described));

        Bulk bulk = new Bulk(base + "/services/async/" + DL_VERSION + "/", login.sessionId(), Bulk.Style.DATA_LOADER);
        // A load: three rows, the last without the required Name.
        Element job = bulk.createJob("insert", "Account");
        String jobId = Xml.text(job, "id");
        out.put("job", Json.obj("state", Xml.text(job, "state"), "contentType", Xml.text(job, "contentType")));
        Element batch = bulk.addBatch(jobId,
            "Name,Industry\nData Loader One,Energy\n\"Data Loader, Two\",Energy\n,Energy\n");
        String batchId = Xml.text(batch, "id");
        out.put("batchList", bulk.waitForBatches(jobId));
        // WSC's getBatchInfo (Data Loader inherits it): a GET with WSC's headers.
        Element info = bulk.batchInfo(jobId, batchId);
        out.put("batchInfo", Json.obj(
            "state", Xml.text(info, "state"),
            "processed", Xml.text(info, "numberRecordsProcessed"),
            "failed", Xml.text(info, "numberRecordsFailed")));
        out.put("results", Csv.parse(bulk.get("job/" + jobId + "/batch/" + batchId + "/result/")));
        out.put("closed", Xml.text(bulk.closeJob(jobId), "state"));

        // An extract: a query job, its result list, then each result set.
        Element query = bulk.createJob("query", "Account");
        String queryId = Xml.text(query, "id");
        Element qbatch = bulk.addBatch(queryId,
            "SELECT Name, Industry FROM Account WHERE Industry = 'Energy' ORDER BY Name");
        String qbatchId = Xml.text(qbatch, "id");
        bulk.waitForBatches(queryId);
        Document list = Xml.parse(bulk.get("job/" + queryId + "/batch/" + qbatchId + "/result/"));
        List<Object> rows = new ArrayList<>();
        for (Element result : Xml.children(list.getDocumentElement(), "result")) {
            rows.addAll(Csv.parse(bulk.get("job/" + queryId + "/batch/" + qbatchId + "/result/"
                + result.getTextContent() + "/")));
        }
        out.put("extracted", rows);
        out.put("extractClosed", Xml.text(bulk.closeJob(queryId), "state"));

        // An unknown job: Bulk's error as BulkConnection parses it.
        try {
            bulk.get("job/750000000000000AAA/");
            out.put("unknownJob", "accepted");
        } catch (AsyncApiException e) {
            out.put("unknownJob", e.json());
        }
        return out;
    }

    /**
     * A session that expires: WSC's SessionRenewer logs in again and the
     * call is retried; Bulk has no renewer, its caller logs in again.
     */
    static Map<String, Object> renew() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        String user = env("SF_USERNAME");
        String key = env("SF_PASSWORD");
        Soap.Login login = Soap.wscLogin(user, key);
        Soap conn = new Soap(login.serverUrl(), login.sessionId(), Soap.Style.WSC);
        List<String> tokens = new ArrayList<>(List.of(login.sessionId()));
        int[] renewals = {0};
        conn.renewer = () -> {
            renewals[0]++;
            Soap.Login again = Soap.wscLogin(user, key);
            tokens.add(again.sessionId());
            return again;
        };
        out.put("before", queryAll(conn, SOQL).get("names"));

        // Longer than the token lives, counted from the login.
        Thread.sleep(Long.parseLong(env("SF_TOKEN_WAIT_MS")));

        // The first call after expiry gets INVALID_SESSION_ID, renews, retries.
        out.put("after", queryAll(conn, SOQL).get("names"));
        out.put("fault", conn.lastRenewedFault == null ? null : conn.lastRenewedFault.json());
        out.put("renewals", renewals[0]);
        out.put("tokens", new ArrayList<Object>(tokens));
        // Bulk with the login's (expired) session: InvalidSessionId.
        String bulkEndpoint = Bulk.restEndpoint(login.serverUrl());
        try {
            new Bulk(bulkEndpoint, login.sessionId(), Bulk.Style.WSC).createJob("insert", "Account");
            out.put("bulkExpired", "accepted");
        } catch (AsyncApiException e) {
            out.put("bulkExpired", e.json());
        }
        // The Bulk caller takes the renewed session and goes on (WSC's GET
        // of the job, with its gzip headers and no body, then the close).
        Bulk renewed = new Bulk(bulkEndpoint, conn.sessionId, Bulk.Style.WSC);
        String jobId = Xml.text(renewed.createJob("insert", "Account"), "id");
        out.put("bulkRenewed", Json.obj(
            "state", Xml.text(renewed.jobInfo(jobId), "state"),
            "closed", Xml.text(renewed.closeJob(jobId), "state")));
        return out;
    }
}

/** A SOAP fault as WSC binds it: faultcode, faultstring and the typed detail. */
class ApiFault extends Exception {
    private static final long serialVersionUID = 1L;
    final int status;
    final String faultCode;
    final String faultString;
    final String detailType;
    final String exceptionCode;
    final String exceptionMessage;
    /** The namespace of the typed detail: the API's fault namespace. */
    String detailNs;

    ApiFault(int status, String faultCode, String faultString, String detailType, String exceptionCode,
            String exceptionMessage) {
        super(faultString);
        this.status = status;
        this.faultCode = faultCode;
        this.faultString = faultString;
        this.detailType = detailType;
        this.exceptionCode = exceptionCode;
        this.exceptionMessage = exceptionMessage;
    }

    /** SoapConnection's test for a renewal: the code, the text, a detail. */
    boolean renewable() {
        String local = faultCode.substring(faultCode.indexOf(':') + 1);
        boolean text = faultString.contains("Session timed out") || faultString.contains("Session not found")
            || faultString.contains("Illegal Session");
        return "INVALID_SESSION_ID".equals(local) && text && detailType != null;
    }

    Map<String, Object> json() {
        return Json.obj("status", status, "faultcode", faultCode, "faultstring", faultString,
            "detailType", detailType, "exceptionCode", exceptionCode, "exceptionMessage", exceptionMessage,
            "renewable", renewable(), "detailNs", detailNs);
    }
}

/** A Bulk 1.0 error as BulkConnection parses it (`<error>` in the async namespace). */
class AsyncApiException extends Exception {
    private static final long serialVersionUID = 1L;
    final int status;
    final String exceptionCode;

    AsyncApiException(int status, String exceptionCode, String message) {
        super(message);
        this.status = status;
        this.exceptionCode = exceptionCode;
    }

    Map<String, Object> json() {
        return Json.obj("status", status, "exceptionCode", exceptionCode, "exceptionMessage", getMessage());
    }
}

/**
 * The SOAP partner API as WSC's PartnerConnection (or Data Loader's
 * transport) calls it; the enterprise API as its EnterpriseConnection does.
 */
class Soap {
    enum Style { WSC, DATA_LOADER }

    record Login(String serverUrl, String metadataServerUrl, String sessionId, String userName,
            String sessionSecondsValid) {
        Map<String, Object> json() {
            return Json.obj("serverUrl", serverUrl, "metadataServerUrl", metadataServerUrl,
                "sessionId", sessionId, "userName", userName, "sessionSecondsValid", sessionSecondsValid);
        }
    }

    interface Renewer {
        Login renew() throws Exception;
    }

    String endpoint;
    String sessionId;
    final Style style;
    /** The API's namespace (`m:`) and its sObjects' (`sobj:`). */
    final String apiNs;
    final String sobjectNs;
    Renewer renewer;
    ApiFault lastRenewedFault;

    Soap(String endpoint, String sessionId, Style style) {
        this(endpoint, sessionId, style, Peer.PARTNER_NS, Peer.SOBJECT_NS);
    }

    private Soap(String endpoint, String sessionId, Style style, String apiNs, String sobjectNs) {
        this.endpoint = endpoint;
        this.sessionId = sessionId;
        this.style = style;
        this.apiNs = apiNs;
        this.sobjectNs = sobjectNs;
    }

    /** EnterpriseConnection: WSC's transport, the enterprise namespaces. */
    static Soap enterprise(String endpoint, String sessionId) {
        return new Soap(endpoint, sessionId, Style.WSC, Peer.ENTERPRISE_NS, Peer.ENTERPRISE_SOBJECT_NS);
    }

    /** Connector.newConnection: authEndpoint = {gateway}/services/Soap/u/{v}. */
    static Login wscLogin(String user, String password) throws Exception {
        String auth = Peer.env("SF_LOGIN_URL") + "/services/Soap/u/" + Peer.wscVersion();
        return new Soap(auth, null, Style.WSC).login(user, password);
    }

    /** LoginClient: sfdc.endpoint.Production + "/" + "/services/Soap/u/64.0/" (the double slash is theirs). */
    static Login dataLoaderLogin(String user, String password) throws Exception {
        String auth = Peer.env("SF_LOGIN_URL") + "/" + "/services/Soap/u/" + Peer.DL_LOGIN_VERSION + "/";
        return new Soap(auth, null, Style.DATA_LOADER).login(user, password);
    }

    Login login(String user, String password) throws Exception {
        Element result = result("login", "<m:username>" + Xml.escape(user) + "</m:username><m:password>"
            + Xml.escape(password) + "</m:password>");
        Element info = Xml.children(result, "userInfo").get(0);
        return new Login(Xml.text(result, "serverUrl"), Xml.text(result, "metadataServerUrl"),
            Xml.text(result, "sessionId"), Xml.text(info, "userName"), Xml.text(info, "sessionSecondsValid"));
    }

    /**
     * Calls `operation` with `body` (its children, `m:` the API's
     * namespace, `sobj:` its sObjects'); returns the `{operation}Response` element.
     * An INVALID_SESSION_ID fault that WSC would renew calls the renewer
     * once and retries with its session, as SoapConnection does.
     */
    Element call(String operation, String body) throws Exception {
        try {
            return send(operation, body);
        } catch (ApiFault fault) {
            if (renewer == null || !fault.renewable()) {
                throw fault;
            }
            lastRenewedFault = fault;
            Login login = renewer.renew();
            sessionId = login.sessionId();
            return send(operation, body);
        }
    }

    private Element send(String operation, String body) throws Exception {
        StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .append("<env:Envelope xmlns:env=\"").append(Peer.ENV_NS)
            .append("\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"").append(Peer.XSI_NS)
            .append("\">");
        boolean callOptions = style == Style.DATA_LOADER;
        if (sessionId != null || callOptions) {
            xml.append("<env:Header>");
            if (sessionId != null) {
                xml.append("<SessionHeader xmlns=\"").append(apiNs).append("\"><sessionId>")
                    .append(Xml.escape(sessionId)).append("</sessionId></SessionHeader>");
            }
            if (callOptions) {
                xml.append("<CallOptions xmlns=\"").append(apiNs)
                    .append("\"><client>DataLoaderBulkUI/67.0.0</client></CallOptions>");
            }
            xml.append("</env:Header>");
        }
        xml.append("<env:Body><m:").append(operation).append(" xmlns:m=\"").append(apiNs)
            .append("\" xmlns:sobj=\"").append(sobjectNs).append("\">").append(body)
            .append("</m:").append(operation).append("></env:Body></env:Envelope>");

        // JdkHttpTransport.connect(uri, soapAction): these headers, a gzip body.
        List<String[]> headers = new ArrayList<>();
        headers.add(new String[] {"SOAPAction", "\"\""});
        headers.add(new String[] {"Content-Type", "text/xml; charset=UTF-8"});
        headers.add(new String[] {"Accept", "text/xml"});
        if (style == Style.DATA_LOADER) {
            Http.dataLoaderHeaders(headers, sessionId);
        }
        Http.Reply reply = Http.post(endpoint, headers, xml.toString().getBytes(StandardCharsets.UTF_8), true);
        String type = reply.header("Content-Type");
        if (type == null || !type.startsWith("text/xml")) {
            throw new IOException("not a SOAP answer (" + reply.status() + ", " + type + "): " + reply.text());
        }
        Document doc = Xml.parse(reply.body());
        Element envelope = doc.getDocumentElement();
        for (Element header : Xml.nsChildren(envelope, Peer.ENV_NS, "Header")) {
            // SoapConnection refuses response headers its WSDL does not list.
            for (Element h : Xml.elements(header)) {
                String name = h.getLocalName();
                if (!name.equals("LimitInfoHeader") && !name.equals("DebuggingInfo")) {
                    throw new IOException("Unrecognized header: " + name);
                }
            }
        }
        Element soapBody = Xml.nsChildren(envelope, Peer.ENV_NS, "Body").get(0);
        Element first = Xml.elements(soapBody).get(0);
        if (!reply.ok()) {
            if (!Peer.ENV_NS.equals(first.getNamespaceURI()) || !first.getLocalName().equals("Fault")) {
                throw new IOException("status " + reply.status() + " without a fault: " + reply.text());
            }
            // faultcode then faultstring, then an optional typed detail.
            List<Element> parts = Xml.elements(first);
            if (parts.size() < 2 || !parts.get(0).getLocalName().equals("faultcode")
                    || !parts.get(1).getLocalName().equals("faultstring")) {
                throw new IOException("a fault not in WSC's order: " + reply.text());
            }
            String detailType = null;
            String detailNs = null;
            String code = null;
            String message = null;
            List<Element> detail = Xml.children(first, "detail");
            if (!detail.isEmpty() && !Xml.elements(detail.get(0)).isEmpty()) {
                Element typed = Xml.elements(detail.get(0)).get(0);
                detailType = typed.getAttributeNS(Peer.XSI_NS, "type");
                detailNs = typed.getNamespaceURI();
                code = Xml.text(typed, "exceptionCode");
                message = Xml.text(typed, "exceptionMessage");
            }
            ApiFault fault = new ApiFault(reply.status(), parts.get(0).getTextContent(),
                parts.get(1).getTextContent(), detailType, code, message);
            fault.detailNs = detailNs;
            throw fault;
        }
        if (!first.getLocalName().equals(operation + "Response")) {
            throw new IOException("expected " + operation + "Response: " + reply.text());
        }
        return first;
    }

    /** The first `result` of `operation`'s answer. */
    Element result(String operation, String body) throws Exception {
        List<Element> results = Xml.children(call(operation, body), "result");
        if (results.isEmpty()) {
            throw new IOException(operation + " answered no result");
        }
        return results.get(0);
    }
}

/** Bulk API 1.0 as WSC's BulkConnection (and Data Loader's BulkV1Connection) calls it. */
class Bulk {
    enum Style { WSC, DATA_LOADER }

    final String endpoint;
    final String sessionId;
    final Style style;

    Bulk(String endpoint, String sessionId, Style style) {
        this.endpoint = endpoint;
        this.sessionId = sessionId;
        this.style = style;
    }

    /**
     * WSC's way from serverUrl to the Bulk endpoint (its LoginHelper):
     * what precedes /services/Soap/u/, then /services/async/ and the version.
     */
    static String restEndpoint(String serverUrl) {
        int at = serverUrl.indexOf("/services/Soap/u/");
        String version = serverUrl.substring(at + "/services/Soap/u/".length()).split("/")[0];
        return serverUrl.substring(0, at) + "/services/async/" + version + "/";
    }

    Element createJob(String operation, String object) throws Exception {
        return postJob("job", "<operation>" + operation + "</operation><object>" + object
            + "</object><concurrencyMode>Parallel</concurrencyMode><contentType>CSV</contentType>");
    }

    Element closeJob(String jobId) throws Exception {
        return postJob("job/" + jobId, "<state>Closed</state>");
    }

    private Element postJob(String path, String fields) throws Exception {
        String xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><jobInfo xmlns=\"" + Peer.ASYNC_NS + "\">"
            + fields + "</jobInfo>";
        return post(path.equals("job") ? "job/" : path, "application/xml", xml);
    }

    /** createBatchFromStream: the CSV (or the SOQL of a query job), gzip. */
    Element addBatch(String jobId, String csv) throws Exception {
        return post("job/" + jobId + "/batch", "text/csv", csv);
    }

    private Element post(String path, String contentType, String body) throws Exception {
        List<String[]> headers = new ArrayList<>();
        headers.add(new String[] {"Content-Type", contentType});
        headers.add(new String[] {"X-SFDC-Session", sessionId});
        if (style == Style.DATA_LOADER) {
            Http.dataLoaderHeaders(headers, sessionId);
        }
        Http.Reply reply = Http.post(endpoint + path, headers, body.getBytes(StandardCharsets.UTF_8), true);
        return Xml.parse(check(reply)).getDocumentElement();
    }

    /** WSC's getJobStatus (doHttpGet): X-SFDC-Session, and gzip headers on a GET without a body. */
    Element jobInfo(String jobId) throws Exception {
        return Xml.parse(wscGet("job/" + jobId)).getDocumentElement();
    }

    Element batchInfo(String jobId, String batchId) throws Exception {
        return Xml.parse(wscGet("job/" + jobId + "/batch/" + batchId)).getDocumentElement();
    }

    private byte[] wscGet(String path) throws Exception {
        List<String[]> headers = new ArrayList<>();
        headers.add(new String[] {"Content-Encoding", "gzip"});
        headers.add(new String[] {"Accept-Encoding", "gzip"});
        headers.add(new String[] {"X-SFDC-Session", sessionId});
        return check(Http.get(endpoint + path, headers));
    }

    /**
     * Data Loader's invokeBulkV1GET: the path with a trailing slash, through
     * its HTTP client, the session as `Bearer` in X-SFDC-Session and Authorization.
     */
    byte[] get(String path) throws Exception {
        List<String[]> headers = new ArrayList<>();
        headers.add(new String[] {"Accept-Encoding", "gzip,deflate"});
        Http.dataLoaderHeaders(headers, sessionId);
        headers.add(new String[] {"X-SFDC-Session", "Bearer " + sessionId});
        return check(Http.get(endpoint + path, headers));
    }

    /** Polls the job's batch list until no batch is Queued or InProgress. */
    List<Object> waitForBatches(String jobId) throws Exception {
        for (int attempt = 0; attempt < 100; attempt++) {
            Document list = Xml.parse(get("job/" + jobId + "/batch/"));
            List<Object> states = new ArrayList<>();
            boolean done = true;
            for (Element info : Xml.children(list.getDocumentElement(), "batchInfo")) {
                String state = Xml.text(info, "state");
                states.add(state);
                done &= !state.equals("Queued") && !state.equals("InProgress");
            }
            if (done) {
                return states;
            }
            Thread.sleep(100);
        }
        throw new IOException("the batches of job " + jobId + " did not finish");
    }

    private static byte[] check(Http.Reply reply) throws Exception {
        if (reply.ok()) {
            return reply.body();
        }
        Element error;
        try {
            error = Xml.parse(reply.body()).getDocumentElement();
        } catch (Exception e) {
            throw new IOException("Bulk error not in its XML (" + reply.status() + "): " + reply.text());
        }
        if (!Peer.ASYNC_NS.equals(error.getNamespaceURI()) || !error.getLocalName().equals("error")) {
            throw new IOException("Bulk error not in its XML (" + reply.status() + "): " + reply.text());
        }
        throw new AsyncApiException(reply.status(), Xml.text(error, "exceptionCode"), Xml.text(error, "exceptionMessage"));
    }
}

/** HTTP as JdkHttpTransport does it, with a transcript of every answer. */
class Http {
    record Reply(int status, Map<String, List<String>> headers, byte[] body) {
        boolean ok() {
            return status < 400;
        }

        String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue().get(0);
                }
            }
            return null;
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    static final String USER_AGENT = "twoway-test-peer (the wire protocol of WSC 64 and Data Loader 67)";

    /** What Data Loader's HttpTransportImpl adds to every request once it has a session. */
    static void dataLoaderHeaders(List<String[]> headers, String sessionId) {
        if (sessionId != null) {
            boolean hasXml = headers.stream().anyMatch(h -> h[0].equalsIgnoreCase("X-SFDC-Session"));
            if (!hasXml) {
                headers.add(new String[] {"X-SFDC-Session", "Bearer " + sessionId});
            }
            headers.add(new String[] {"Authorization", "Bearer " + sessionId});
        }
        headers.add(new String[] {"client_id", "DataLoaderBulkUI/67.0.0"});
        headers.add(new String[] {"Sforce-Call-Options", "client=DataLoaderBulkUI/67.0.0"});
    }

    static Reply post(String url, List<String[]> headers, byte[] body, boolean gzip) throws IOException {
        HttpURLConnection c = open(url, headers);
        if (gzip) {
            c.addRequestProperty("Content-Encoding", "gzip");
            c.addRequestProperty("Accept-Encoding", "gzip");
        }
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        try (OutputStream raw = c.getOutputStream();
                OutputStream out = gzip ? new GZIPOutputStream(raw) : raw) {
            out.write(body);
        }
        return read(url, c);
    }

    static Reply get(String url, List<String[]> headers) throws IOException {
        HttpURLConnection c = open(url, headers);
        c.setRequestMethod("GET");
        return read(url, c);
    }

    private static HttpURLConnection open(String url, List<String[]> headers) throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        c.addRequestProperty("User-Agent", USER_AGENT);
        for (String[] h : headers) {
            c.addRequestProperty(h[0], h[1]);
        }
        c.setConnectTimeout(30_000);
        c.setReadTimeout(60_000);
        return c;
    }

    private static Reply read(String url, HttpURLConnection c) throws IOException {
        InputStream in;
        try {
            in = c.getInputStream();
        } catch (IOException e) {
            in = c.getErrorStream();
            if (in == null) {
                throw e;
            }
        }
        int status = c.getResponseCode();
        if ("gzip".equals(c.getHeaderField("Content-Encoding"))) {
            in = new GZIPInputStream(in);
        }
        byte[] body;
        try (InputStream stream = in) {
            body = stream.readAllBytes();
        }
        Reply reply = new Reply(status, c.getHeaderFields(), body);
        transcript(url, reply);
        return reply;
    }

    /** Appends the answer (status, headers, decoded body) to SF_TRANSCRIPT. */
    private static void transcript(String url, Reply reply) throws IOException {
        String file = System.getenv("SF_TRANSCRIPT");
        if (file == null || file.isEmpty()) {
            return;
        }
        StringBuilder text = new StringBuilder("== ").append(url).append('\n');
        for (Map.Entry<String, List<String>> e : reply.headers().entrySet()) {
            text.append(e.getKey() == null ? "" : e.getKey() + ": ").append(String.join(", ", e.getValue()))
                .append('\n');
        }
        text.append('\n').append(reply.text()).append("\n\n");
        Files.writeString(Path.of(file), text, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
    }
}

/** DOM helpers: a hardened namespace-aware parser and child lookups by local name. */
class Xml {
    static Document parse(byte[] body) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        f.setExpandEntityReferences(false);
        return f.newDocumentBuilder().parse(new java.io.ByteArrayInputStream(body));
    }

    static List<Element> elements(Element parent) {
        List<Element> out = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e) {
                out.add(e);
            }
        }
        return out;
    }

    static List<Element> children(Element parent, String local) {
        List<Element> out = new ArrayList<>();
        for (Element e : elements(parent)) {
            if (local.equals(e.getLocalName())) {
                out.add(e);
            }
        }
        return out;
    }

    static List<Element> nsChildren(Element parent, String ns, String local) {
        List<Element> out = new ArrayList<>();
        for (Element e : children(parent, local)) {
            if (ns.equals(e.getNamespaceURI())) {
                out.add(e);
            }
        }
        return out;
    }

    /** The text of the first child named `local`; null when absent or xsi:nil. */
    static String text(Element parent, String local) {
        List<Element> found = children(parent, local);
        if (found.isEmpty() || "true".equals(found.get(0).getAttributeNS(Peer.XSI_NS, "nil"))) {
            return null;
        }
        return found.get(0).getTextContent();
    }

    static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}

/** RFC 4180 CSV with a header row, as a list of objects by column. */
class Csv {
    static List<Object> parse(byte[] body) {
        String text = new String(body, StandardCharsets.UTF_8);
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    cell.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    cell.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                row.add(cell.toString());
                cell.setLength(0);
            } else if (ch == '\n' || ch == '\r') {
                if (ch == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
                    i++;
                }
                row.add(cell.toString());
                cell.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
            } else {
                cell.append(ch);
            }
        }
        if (cell.length() > 0 || !row.isEmpty()) {
            row.add(cell.toString());
            rows.add(row);
        }
        List<Object> out = new ArrayList<>();
        for (List<String> r : rows.subList(Math.min(1, rows.size()), rows.size())) {
            Map<String, Object> record = new LinkedHashMap<>();
            for (int i = 0; i < r.size() && i < rows.get(0).size(); i++) {
                record.put(rows.get(0).get(i), r.get(i));
            }
            out.add(record);
        }
        return out;
    }
}

/** Just enough JSON to print the result. */
class Json {
    static Map<String, Object> obj(Object... pairs) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            out.put((String) pairs[i], pairs[i + 1]);
        }
        return out;
    }

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
            out.append(value);
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                write(out, e.getKey().toString());
                out.append(':');
                write(out, e.getValue());
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                write(out, list.get(i));
            }
            out.append(']');
        } else {
            out.append('"');
            for (char ch : value.toString().toCharArray()) {
                switch (ch) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    default -> {
                        if (ch < 0x20) {
                            out.append(String.format("\\u%04x", (int) ch));
                        } else {
                            out.append(ch);
                        }
                    }
                }
            }
            out.append('"');
        }
    }
}
