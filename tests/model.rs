//! The SFNN step against the reference JAX records in `tests/fixtures/sfnn/` (see its README).
//!
//! Every call is teacher-forced with the recorded observation, reward and previous action, so a
//! different decision on a near-tie cannot change later states. Only wired synapses are compared:
//! the reference also updates masked pairs, which never influence behaviour and which we skip.

use serde_json::Value;
use sfnn::model::{GenomeLayout, ModelConfig, Network, Params, Readout, Wiring};
use sfnn::num::Real;
use std::path::Path;

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sfnn")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}

/// Output of a float32 run is written as a short decimal that rounds to the recorded f32.
fn as_f32(values: Vec<f64>) -> Vec<f64> {
    values.into_iter().map(|v| v as f32 as f64).collect()
}

struct Case {
    config: ModelConfig,
    inputs: usize,
    actions: usize,
    params: Vec<f64>,
    wiring: Wiring,
    /// Initial synapse states of the wired edges, in wiring order.
    e0: Vec<f64>,
}

impl Case {
    fn from(file: &Value) -> Case {
        let cfg = &file["config"];
        let config = ModelConfig {
            nodes: usize_of(&cfg["n_nodes"]),
            msg_dims: usize_of(&cfg["msg_dims"]),
            node_types: usize_of(&cfg["n_types"]),
        };
        let (inputs, actions) = (usize_of(&cfg["input_dims"]), usize_of(&cfg["action_dims"]));
        let mut params = floats(&file["params_flat"]);
        if let Some(lr) = file.get("learning_rate_override") {
            *params.last_mut().unwrap() = lr.as_f64().unwrap();
        }
        let state = &file["initial_state"];
        let types = state["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u8)
            .collect();
        let adjacency: Vec<Vec<f64>> = state["A"].as_array().unwrap().iter().map(floats).collect();
        let wiring = Wiring::from_adjacency(inputs, actions, types, &adjacency);
        let e0 = wired(&wiring, &floats(&state["e"]), config.msg_dims);
        assert_eq!(floats(&state["y_prev"]).iter().sum::<f64>(), 0.0);
        Case {
            config,
            inputs,
            actions,
            params,
            wiring,
            e0,
        }
    }

    fn network<F: Real>(&self) -> (Network<F>, Params<F>) {
        let layout = GenomeLayout::new(self.config);
        let params = Params::<F>::from_flat(&layout, &self.params);
        let init: Vec<F> = self.e0.iter().map(|&v| F::of(v)).collect();
        let readout = Readout::Discrete {
            actions: self.actions,
        };
        let net = Network::new(
            &self.wiring,
            readout,
            self.config.msg_dims,
            self.config.node_types,
            &init,
        );
        (net, params)
    }
}

/// The wired entries of a dense (N, N, d) tensor, in wiring order.
fn wired(wiring: &Wiring, dense: &[f64], d: usize) -> Vec<f64> {
    let n = wiring.nodes;
    wiring
        .edges
        .iter()
        .flat_map(|&[i, j]| {
            let base = (i as usize * n + j as usize) * d;
            dense[base..base + d].to_vec()
        })
        .collect()
}

fn max_abs_diff<F: Real>(ours: &[F], reference: &[f64]) -> f64 {
    assert_eq!(ours.len(), reference.len());
    ours.iter()
        .zip(reference)
        .map(|(a, b)| (a.to_f64_exact() - b).abs())
        .fold(0.0, f64::max)
}

fn action_of(decision: sfnn::model::Decision<impl Real>) -> usize {
    match decision {
        sfnn::model::Decision::Discrete(a) => a,
        other => panic!("expected a discrete action, got {other:?}"),
    }
}

struct Tolerances {
    e: f64,
    y: f64,
    outputs: f64,
    /// Actions are compared only where the recorded argmax margin exceeds this.
    margin: f64,
}

/// Replays the step records of one file in float type `F` against `records` (the f32 `steps` or
/// the f64 `steps_f64`), returning the number of state comparisons made.
fn replay<F: Real>(file: &Value, records: &str, tol: &Tolerances, float32_output: bool) -> usize {
    let case = Case::from(file);
    let (mut net, params) = case.network::<F>();
    let steps = file["steps"].as_array().unwrap();
    let reference = file[records].as_array().unwrap();
    let d = case.config.msg_dims;
    let read = |v: &Value| {
        let values = floats(v);
        if float32_output {
            as_f32(values)
        } else {
            values
        }
    };
    let mut compared = 0;
    for (k, (input, expected)) in steps.iter().zip(reference).enumerate() {
        net.set_reward(F::of(input["r_in"].as_f64().unwrap()));
        net.set_prev_action(usize_of(&input["a_prev_in"]));
        let obs: Vec<F> = floats(&input["obs"]).into_iter().map(F::of).collect();
        assert_eq!(obs.len(), case.inputs);
        let action = action_of(net.step(&params, &obs));

        let outputs = read(&expected["action_node_outputs"]);
        let dev = max_abs_diff(&net.action_outputs(), &outputs);
        assert!(
            dev <= tol.outputs,
            "{records} call {k}: action outputs off by {dev}"
        );
        if expected["argmax_margin"].as_f64().unwrap() > tol.margin {
            assert_eq!(
                action,
                usize_of(&expected["action"]),
                "{records} call {k}: action"
            );
        }
        if let Some(e) = expected.get("e") {
            let reference_e = wired(&case.wiring, &read(e), d);
            let dev = max_abs_diff(&net.synapse_states(), &reference_e);
            assert!(
                dev <= tol.e,
                "{records} call {k}: synapse states off by {dev}"
            );
            let dev = max_abs_diff(net.activations(), &read(&expected["y_prev"]));
            assert!(dev <= tol.y, "{records} call {k}: activations off by {dev}");
            compared += 1;
        }
    }
    compared
}

const SHORT_FILES: [&str; 6] = [
    "sfnn_seed10_eqxinit.json",
    "sfnn_seed11_eqxinit.json",
    "sfnn_seed12_normal.json",
    "sfnn_seed13_normal.json",
    "sfnn_seed14_acrobot_eqxinit.json",
    "sfnn_seed15_mountaincar_normal.json",
];

#[test]
fn float32_matches_reference_steps_on_every_short_file() {
    let tol = Tolerances {
        e: 1e-6,
        y: 1e-6,
        outputs: 1e-6,
        margin: 1e-4,
    };
    for name in SHORT_FILES {
        let compared = replay::<f32>(&load(name), "steps", &tol, true);
        assert_eq!(compared, 10, "{name}");
    }
}

#[test]
fn float64_matches_reference_float64_rerun_on_every_short_file() {
    let tol = Tolerances {
        e: 1e-12,
        y: 1e-12,
        outputs: 1e-12,
        margin: 1e-9,
    };
    for name in SHORT_FILES {
        let compared = replay::<f64>(&load(name), "steps_f64", &tol, false);
        assert_eq!(compared, 6, "{name}");
    }
}

#[test]
fn long_run_with_growing_synapses_tracks_the_reference() {
    let file = load("sfnn_long_seed16_normal_lr1.json");
    // Suggested by the fixture README: about 10x the float32-vs-float64 gap of the reference.
    let tol32 = Tolerances {
        e: 1e-3,
        y: 5e-2,
        outputs: 1e-3,
        margin: 1e-4,
    };
    assert_eq!(replay::<f32>(&file, "steps", &tol32, true), 30);
    let tol64 = Tolerances {
        e: 1e-10,
        y: 1e-10,
        outputs: 1e-10,
        margin: 1e-9,
    };
    assert_eq!(replay::<f64>(&file, "steps_f64", &tol64, false), 3);
}

/// The full 8-episode CartPole lifetime, teacher-forced from the recorded observations, rewards
/// and actions, with the network state carried across episodes.
fn closed_loop<F: Real>() -> (f64, f64, usize) {
    let file = load("closedloop_cartpole_seed17_eqxinit.json");
    let mut case_file = file.clone();
    case_file["config"]["input_dims"] = 4.into();
    case_file["config"]["action_dims"] = 2.into();
    let case = Case::from(&case_file);
    let (mut net, params) = case.network::<F>();
    let (mut worst_output, mut worst_relative_e, mut checked_actions) = (0.0_f64, 0.0_f64, 0);
    for episode in file["episodes"].as_array().unwrap() {
        let obs = episode["obs"].as_array().unwrap();
        let actions = episode["action"].as_array().unwrap();
        let rewards = floats(&episode["reward"]);
        let outputs = episode["action_node_outputs"].as_array().unwrap();
        for t in 0..obs.len() {
            let o: Vec<F> = floats(&obs[t]).into_iter().map(F::of).collect();
            let action = action_of(net.step(&params, &o));
            let expected = as_f32(floats(&outputs[t]));
            worst_output = worst_output.max(max_abs_diff(&net.action_outputs(), &expected));
            if (expected[0] - expected[1]).abs() > 1e-4 {
                assert_eq!(action, usize_of(&actions[t]));
                checked_actions += 1;
            }
            // Teacher forcing: the next call sees the recorded action and reward.
            net.set_prev_action(usize_of(&actions[t]));
            net.set_reward(F::of(rewards[t]));
        }
        let final_e = wired(
            &case.wiring,
            &as_f32(floats(&episode["final_state"]["e"])),
            case.config.msg_dims,
        );
        let scale = final_e.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        worst_relative_e =
            worst_relative_e.max(max_abs_diff(&net.synapse_states(), &final_e) / scale);
    }
    (worst_output, worst_relative_e, checked_actions)
}

#[test]
fn closed_loop_lifetime_replays_in_float64() {
    let (outputs, relative_e, actions) = closed_loop::<f64>();
    // The fixture README: a float64 replay stays within 4.3e-7 of the float32 outputs and
    // 5.6e-5 of max |e|, and agrees on all 248 steps with a margin above 1e-4.
    assert!(outputs <= 1e-6, "action outputs off by {outputs}");
    assert!(
        relative_e <= 1e-4,
        "synapse states off by {relative_e} of max |e|"
    );
    assert_eq!(actions, 248);
}

#[test]
fn closed_loop_lifetime_replays_in_float32() {
    let (outputs, relative_e, actions) = closed_loop::<f32>();
    assert!(outputs <= 1e-5, "action outputs off by {outputs}");
    assert!(
        relative_e <= 1e-3,
        "synapse states off by {relative_e} of max |e|"
    );
    assert_eq!(actions, 248);
}
