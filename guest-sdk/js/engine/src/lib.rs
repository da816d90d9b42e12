//! The JavaScript engine component: QuickJS (quickjs-ng through `rquickjs`) exporting
//! `molecule:runtime/tool` for every JavaScript skill.
//!
//! A skill is data, not a build: each call gets a fresh component instance (the host's
//! sandbox), and the instance creates a JavaScript runtime, installs the host capabilities
//! ([`host`]) and the console/text-codec prelude, imports the skill's `/skill/app.js` as an ES
//! module ([`modules`]), and hands its module namespace to the authoring package's dispatcher
//! (`__moleculeDescribe` / `__moleculeCall` of `molecule-skill`, embedded from `guest-sdk/js/src`).
//!
//! Errors: a tool's thrown error comes back as the WIT `tool-error` the dispatcher chose; a
//! skill that cannot load (syntax error, missing import, bad tool spec) fails `describe` with
//! the reason on stderr (which the host attaches to the load error) and every `call` with
//! `failed` and the same reason.

mod host;
mod http;
mod modules;

use molecule_guest_sdk::bindings::exports::molecule::runtime::tool::Guest;
use molecule_guest_sdk::serde_json::{self, Value as Json};
use molecule_guest_sdk::types::{ToolError, ToolSpec};
use rquickjs::function::This;
use rquickjs::{Context, Ctx, Error, Function, Module, Object, Promise, Runtime, Value};

/// Where the host mounts the skill's folder (read-only).
const SKILL_ROOT: &str = "/skill";
/// The skill's entry module, relative to [`SKILL_ROOT`].
const ENTRY: &str = "app.js";
/// The prelude every context runs first: `console` and `TextEncoder`/`TextDecoder`.
const PRELUDE: &str = include_str!("prelude.js");

/// The skill's module namespace and the dispatcher of `molecule-skill`, in one context.
struct Loaded<'js> {
    ctx: Ctx<'js>,
    skill: Object<'js>,
    sdk: Object<'js>,
}

/// Runs `f` with the skill loaded in a fresh runtime; `Err` is the text of whatever failed.
fn with_skill<R>(f: impl FnOnce(&Loaded) -> Result<R, String>) -> Result<R, String> {
    let rt = Runtime::new().map_err(|e| format!("starting the JavaScript runtime: {e}"))?;
    // No QuickJS stack limit: its check reads the frame address, which on wasm32 does not
    // track the stack. Runaway recursion ends in the host's wasm stack limit instead (a trap
    // the host reports as a stack overflow), the rest of the process untouched.
    rt.set_loader(modules::Files::new(SKILL_ROOT), modules::Files::new(SKILL_ROOT));
    let context = Context::full(&rt).map_err(|e| format!("creating a context: {e}"))?;
    context.with(|ctx| {
        host::install(&ctx).map_err(|e| error_text(&ctx, e))?;
        ctx.eval::<(), _>(PRELUDE)
            .map_err(|e| format!("the engine's prelude failed: {}", error_text(&ctx, e)))?;
        let skill = import(&ctx, ENTRY).map_err(|e| format!("cannot load {ENTRY}: {e}"))?;
        let sdk = import(&ctx, modules::SDK).map_err(|e| format!("cannot load the SDK: {e}"))?;
        f(&Loaded { ctx: ctx.clone(), skill, sdk })
    })
}

/// Imports module `name` and returns its namespace once its evaluation (and every job it
/// queued) has finished.
fn import<'js>(ctx: &Ctx<'js>, name: &str) -> Result<Object<'js>, String> {
    let promise = Module::import(ctx, name).map_err(|e| error_text(ctx, e))?;
    settle(ctx, promise)?
        .into_object()
        .ok_or_else(|| format!("module {name} has no namespace"))
}

/// Drives the job queue until `promise` settles; its value, or the text of its rejection.
fn settle<'js>(ctx: &Ctx<'js>, promise: Promise<'js>) -> Result<Value<'js>, String> {
    match promise.finish::<Value>() {
        Ok(value) => Ok(value),
        Err(Error::WouldBlock) => Err("a promise never settled: the sandbox has no timers or \
             event loop, so only promises that other code resolves can be awaited"
            .into()),
        Err(e) => Err(error_text(ctx, e)),
    }
}

/// The text of a failure: for a JavaScript exception `Name: message` and its stack.
fn error_text(ctx: &Ctx, error: Error) -> String {
    if !matches!(error, Error::Exception) {
        return error.to_string();
    }
    let thrown = ctx.catch();
    let Some(object) = thrown.as_object() else {
        return match thrown.as_string() {
            Some(s) => s.to_string().unwrap_or_default(),
            None => format!("{thrown:?}"),
        };
    };
    let text = |key: &str| -> String {
        object
            .get::<_, Option<rquickjs::Coerced<String>>>(key)
            .ok()
            .flatten()
            .map(|c| c.0)
            .unwrap_or_default()
    };
    let (name, message, stack) = (text("name"), text("message"), text("stack"));
    let head = match (name.is_empty(), message.is_empty()) {
        (false, false) => format!("{name}: {message}"),
        (false, true) => name,
        (true, _) => message,
    };
    if stack.trim().is_empty() {
        head
    } else {
        format!("{head}\n{}", stack.trim_end())
    }
}

/// `__moleculeDescribe(namespace)` as JSON text.
fn describe_json() -> Result<String, String> {
    with_skill(|l| {
        let describe: Function = l
            .sdk
            .get("__moleculeDescribe")
            .map_err(|e| error_text(&l.ctx, e))?;
        describe
            .call::<_, String>((This(l.sdk.clone()), l.skill.clone()))
            .map_err(|e| error_text(&l.ctx, e))
    })
}

/// `__moleculeCall(namespace, name, input)`: the `{tag, val}` it answers, awaited.
fn call_tool(name: &str, input: &str) -> Result<(String, String), String> {
    with_skill(|l| {
        let call: Function = l
            .sdk
            .get("__moleculeCall")
            .map_err(|e| error_text(&l.ctx, e))?;
        let answer: Value = call
            .call((This(l.sdk.clone()), l.skill.clone(), name, input))
            .map_err(|e| error_text(&l.ctx, e))?;
        let answer = match answer.as_promise() {
            Some(promise) => settle(&l.ctx, promise.clone())?,
            None => answer,
        };
        // Jobs the tool queued and did not await (`promise.then(...)` of a host call) still
        // run before the call ends, as they would under Node.
        while l.ctx.execute_pending_job() {}
        let answer = answer
            .into_object()
            .ok_or("the dispatcher answered a non-object")?;
        let field = |key: &str| answer.get::<_, String>(key).map_err(|e| error_text(&l.ctx, e));
        Ok((field("tag")?, field("val")?))
    })
}

struct Engine;

impl Guest for Engine {
    fn describe() -> Vec<ToolSpec> {
        let specs = describe_json().and_then(|text| {
            serde_json::from_str::<Vec<Json>>(&text).map_err(|e| format!("bad describe: {e}"))
        });
        match specs {
            Ok(specs) => specs.iter().map(spec).collect(),
            Err(reason) => {
                // `describe` has no error channel: say why on stderr (the host attaches its
                // tail to the load error) and trap, with no panic noise.
                eprintln!("{reason}");
                std::panic::set_hook(Box::new(|_| {}));
                panic!("the skill failed to load");
            }
        }
    }

    fn call(name: String, input: String) -> Result<String, ToolError> {
        let (tag, val) = call_tool(&name, &input).map_err(ToolError::Failed)?;
        match tag.as_str() {
            "ok" => Ok(val),
            "invalid-input" => Err(ToolError::InvalidInput(val)),
            "denied" => Err(ToolError::Denied(val)),
            "not-found" => Err(ToolError::NotFound(val)),
            _ => Err(ToolError::Failed(val)),
        }
    }
}

/// One entry of `__moleculeDescribe`'s answer as a WIT tool spec.
fn spec(entry: &Json) -> ToolSpec {
    let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
    ToolSpec {
        name: text("name"),
        description: text("description"),
        input_schema: entry["inputSchema"].to_string(),
    }
}

molecule_guest_sdk::bindings::__export_skill_world!(Engine with_types_in molecule_guest_sdk::bindings);
